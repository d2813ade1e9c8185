#!/usr/bin/env bash
# Builds the wire-format fuzzer with libFuzzer + AddressSanitizer and runs it.
#   bash Fuzz/run-fuzzer.sh [seconds]      (default 60)
# It compiles TesseraCore and TesseraCodec's sources directly with swiftc (SwiftPM has no
# fuzzer mode), seeds the corpus with valid updates written by the test suite's golden files,
# and fails on any crash, leak or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=.build-fuzz
mkdir -p "$out/corpus"
bash scripts/ensure-system-packages.sh
clang -O2 -fsanitize=fuzzer-no-link,address -c Sources/CTesseraKernels/Kernels.c -I Sources/CTesseraKernels/include -o "$out/Kernels.o"
swiftc -O -sanitize=fuzzer,address -parse-as-library -package-name tessera -module-name TesseraCore -emit-module -emit-module-path "$out/TesseraCore.swiftmodule" \
    -I Sources/CTesseraKernels/include -emit-library -static -o "$out/libTesseraCore.a" Sources/TesseraCore/*.swift
swiftc -O -sanitize=fuzzer,address -parse-as-library -package-name tessera -module-name FuzzTarget \
    -I "$out" -I Sources/CZstd -I Sources/CBLAS -I Sources/CTesseraKernels/include $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
    Sources/TesseraCodec/*.swift Fuzz/WireFormatFuzzer.swift "$out/Kernels.o" -L "$out" -lTesseraCore \
    $(pkg-config --libs openblas libzstd) -o "$out/wire-format-fuzzer"
# Seed corpus: valid updates for the harness's layout, both codec settings, both compressions.
swift build -c release --product tessera >/dev/null
python3 - "$out/seed.safetensors" <<'PY'
import json, struct, sys, random
random.seed(1)
tensors = {"b": [5], "w": [8, 12]}
header, body = {}, b""
for name, shape in tensors.items():
    n = 1
    for d in shape: n *= d
    data = struct.pack("<%df" % n, *[random.gauss(0, 1) for _ in range(n)])
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(body), len(body) + len(data)]}
    body += data
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + body)
PY
for compression in zstd none; do
    .build/release/tessera codec encode --in "$out/seed.safetensors" --out "$out/corpus/rice-$compression.tsg" --chunk 4 --k 3 --compression $compression >/dev/null
    .build/release/tessera codec encode --in "$out/seed.safetensors" --out "$out/corpus/int4-$compression.tsg" --chunk 4 --k 3 --bits 4 --indices packed12 --compression $compression >/dev/null
done
"$out/wire-format-fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=5 "$out/corpus"
