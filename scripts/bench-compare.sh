#!/usr/bin/env bash
# Side-by-side benchmark against the PyTorch peer, in one sitting: alternates Tessera's and
# PyTorch's training-step benchmarks (small and medium configurations, batch 16, 2 threads),
# ROUNDS times each, and prints every JSON line plus the median ratio per configuration.
# Needs the reference venv: python3 -m venv /tmp/tessera-ref && /tmp/tessera-ref/bin/pip install torch safetensors numpy
set -euo pipefail
cd "$(dirname "$0")/.."
reference=${TESSERA_REFERENCE:-../shared/reference}
python=${TESSERA_REFERENCE_PYTHON:-/tmp/tessera-ref/bin/python}
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
bash scripts/ensure-system-packages.sh
swift build -c release --product tessera >/dev/null
tmp=$(mktemp -d)
echo '{"vocab":256,"dim":128,"layers":4,"heads":4,"kv_heads":4,"ffn":344,"context":128}' > "$tmp/small.json"
echo '{"vocab":256,"dim":384,"layers":6,"heads":6,"kv_heads":2,"ffn":1024,"context":256}' > "$tmp/medium.json"
for config in small medium; do
    steps=10; [ "$config" = medium ] && steps=5
    for round in $(seq "$rounds"); do
        .build/release/tessera bench train --config "$tmp/$config.json" --batch 16 --threads "$threads" --steps $steps | tee -a "$tmp/$config.tessera"
        "$python" "$reference/llama_reference.py" bench --config "$tmp/$config.json" --batch 16 --threads "$threads" --steps $steps | tee -a "$tmp/$config.pytorch"
    done
    python3 - "$tmp/$config.tessera" "$tmp/$config.pytorch" "$config" <<'PY'
import json, statistics, sys
t = statistics.median(json.loads(l)["ms_per_step"] for l in open(sys.argv[1]))
p = statistics.median(json.loads(l)["ms_per_step"] for l in open(sys.argv[2]))
print(f"{sys.argv[3]}: tessera {t:.1f} ms/step, pytorch {p:.1f} ms/step, speed-up {p / t:.2f}x")
PY
done
for round in $(seq "$rounds"); do .build/release/tessera bench matmul --size 1024 --threads "$threads"; done
rm -rf "$tmp"
