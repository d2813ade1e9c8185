#!/usr/bin/env bash
# Side-by-side benchmark against the PyTorch peer, in one sitting: alternates Tessera's and
# PyTorch's training-step benchmarks (small and medium at batch 16, the 32k-vocabulary config at
# batch 8; 2 threads), ROUNDS times each, and prints every JSON line plus the median ratio and the
# peak resident set of each side (GNU time's maximum RSS of the whole process, for both).
# KERNELS=avx2 (or portable) runs Tessera's engine kernels at that level; CONFIGS picks configs.
# Also: `tessera doctor` (the CPU, the BLAS core) and `tessera bench matmul` against the peer's
# own 1024³ product.
# Needs the reference venv: python3 -m venv /tmp/tessera-ref && /tmp/tessera-ref/bin/pip install torch safetensors numpy
set -euo pipefail
cd "$(dirname "$0")/.."
reference=${TESSERA_REFERENCE:-../shared/reference}
python=${TESSERA_REFERENCE_PYTHON:-/tmp/tessera-ref/bin/python}
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
configs=${CONFIGS:-small medium large_vocab}
kernels=()
if [ -n "${KERNELS:-}" ]; then kernels=(--kernels "$KERNELS"); fi
bash scripts/ensure-system-packages.sh
swift build -c release --product tessera >/dev/null
tmp=$(mktemp -d)
echo '{"vocab":256,"dim":128,"layers":4,"heads":4,"kv_heads":4,"ffn":344,"context":128}' > "$tmp/small.json"
echo '{"vocab":256,"dim":384,"layers":6,"heads":6,"kv_heads":2,"ffn":1024,"context":256}' > "$tmp/medium.json"
echo '{"vocab":32000,"dim":256,"layers":4,"heads":4,"kv_heads":4,"ffn":688,"context":256,"rope_theta":10000.0,"norm_eps":1e-5}' > "$tmp/large_vocab.json"
lscpu | grep -E "Model name" || true
.build/release/tessera doctor || true
for config in $configs; do
    steps=10; batch=16
    [ "$config" = medium ] && steps=5
    [ "$config" = large_vocab ] && steps=5 && batch=8
    for round in $(seq "$rounds"); do
        /usr/bin/time -f "peak_rss_kib %M" -o "$tmp/time" .build/release/tessera bench train --config "$tmp/$config.json" \
            --batch "$batch" --threads "$threads" --steps $steps "${kernels[@]}" | tee -a "$tmp/$config.tessera"
        cat "$tmp/time" >> "$tmp/$config.tessera.rss"
        /usr/bin/time -f "peak_rss_kib %M" -o "$tmp/time" "$python" "$reference/llama_reference.py" bench --config "$tmp/$config.json" \
            --batch "$batch" --threads "$threads" --steps $steps | tee -a "$tmp/$config.pytorch"
        cat "$tmp/time" >> "$tmp/$config.pytorch.rss"
    done
    python3 - "$tmp/$config" "$config" <<'PY'
import json, statistics, sys
base, name = sys.argv[1], sys.argv[2]
def runs(side): return [json.loads(l) for l in open(f"{base}.{side}") if l.startswith("{")]
def rss(side): return statistics.median(int(l.split()[1]) for l in open(f"{base}.{side}.rss")) / 1024
t = statistics.median(r["ms_per_step"] for r in runs("tessera"))
p = statistics.median(r["ms_per_step"] for r in runs("pytorch"))
# Each round runs the two back to back: the median of the rounds' ratios cancels most of the
# machine's drift between rounds.
paired = statistics.median(b["ms_per_step"] / a["ms_per_step"] for a, b in zip(runs("tessera"), runs("pytorch")))
print(f"{name}: tessera {t:.1f} ms/step, pytorch {p:.1f} ms/step, speed-up {p / t:.2f}x (median of round ratios {paired:.2f}x); "
      f"peak RSS tessera {rss('tessera'):.0f} MiB, pytorch {rss('pytorch'):.0f} MiB")
PY
done
for round in $(seq "$rounds"); do
    .build/release/tessera bench matmul --size 1024 --threads "$threads"
    "$python" - "$threads" <<'PY'
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(3): a @ b
times = []
for _ in range(20):
    t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
times.sort()
print(f'{{"peer": "pytorch", "matmul_gflops": {2 * 1024**3 / times[len(times) // 2] / 1e9:.1f}}}')
PY
done
rm -rf "$tmp"
