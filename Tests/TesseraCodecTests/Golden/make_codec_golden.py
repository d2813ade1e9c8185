#!/usr/bin/env python3
"""Writes Golden/pytorch-codec/: a small SparseLoCo case encoded, decoded and aggregated by the
PyTorch reference codec (/work/shared/reference/codec_reference.py), for PyTorchCrossCheckTests.

The reference is imported, not copied, so the fixture follows whatever it does:

    /tmp/tessera-ref/bin/python make_codec_golden.py /work/shared/reference/codec_reference.py \
        [output directory, default: pytorch-codec next to this script]

Case: torch.manual_seed(0); 4 peers, each with two tensors ("w_big" 256×192 and "w_small"
64×128) of standard normals; chunk 64, k 64, 4 bins; zero error feedback, so the encoded tensor
is the input itself. Files:

  inputs.safetensors     "<peer>.<tensor>"          float32, the tensor's shape
  reference.safetensors  "<peer>.<tensor>.indices"  int32 [chunks, k], each chunk's kept local
                                                    indices, sorted ascending
                         "<peer>.<tensor>.values"   float32 [chunks, k], the decoded value at
                                                    each of those indices (lookup[q] + shift)
                         "<peer>.<tensor>.lookup"   float32 [bins]; ".shift" float32 [1]
                         "aggregate.<tensor>"       float32, the tensor's shape
  case.json              the settings, the tensor names and shapes, versions
"""
import importlib.util
import json
import os
import sys
from types import SimpleNamespace

import torch
from safetensors.torch import save_file


def load_reference(path):
    spec = importlib.util.spec_from_file_location("codec_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ref = load_reference(sys.argv[1])
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch-codec")
    os.makedirs(out_dir, exist_ok=True)

    seed, chunk, k, bins, peers = 0, 64, 64, 4, 4
    tensors = [("w_big", 256, 192), ("w_small", 64, 128)]
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    inputs = {}
    for p in range(peers):
        for name, rows, cols in tensors:
            inputs[f"{p}.{name}"] = torch.randn(rows, cols)

    reference = {}
    for name, rows, cols in tensors:
        a = SimpleNamespace(rows=rows, cols=cols, chunk=chunk, k=k, bins=bins)
        msgs = []
        for p in range(peers):
            e = torch.zeros(rows, cols)  # zero error feedback: e ← 0.95·0 + Δ = Δ
            msg = ref.encode(inputs[f"{p}.{name}"], e, a)
            msgs.append(msg)
            packed, q, lookup, shift = msg
            idx = ref.unpack(packed, a)                      # [R/c, C/c, k], topk order
            dense = ref.decode(msg, a)                       # [R/c, C/c, c·c]
            chunks = idx.shape[0] * idx.shape[1]
            sorted_idx, _ = torch.sort(idx.reshape(chunks, k), dim=-1)
            values = torch.gather(dense.reshape(chunks, chunk * chunk), -1, sorted_idx)
            reference[f"{p}.{name}.indices"] = sorted_idx.to(torch.int32).contiguous()
            reference[f"{p}.{name}.values"] = values.contiguous()
            reference[f"{p}.{name}.lookup"] = lookup.contiguous()
            reference[f"{p}.{name}.shift"] = shift.reshape(1).contiguous()
        reference[f"aggregate.{name}"] = ref.aggregate(msgs, a).contiguous()

    save_file(inputs, os.path.join(out_dir, "inputs.safetensors"))
    save_file(reference, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "case.json"), "w") as f:
        json.dump({
            "seed": seed, "chunk": chunk, "k": k, "bins": bins, "peers": peers,
            "error_feedback": "zero",
            "tensors": [{"name": n, "shape": [r, c]} for n, r, c in tensors],
            "torch": torch.__version__,
            "generator": "Tests/TesseraCodecTests/Golden/make_codec_golden.py",
            "reference": "codec_reference.py (encode, unpack, decode, aggregate)",
        }, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
