#!/usr/bin/env bash
# Side-by-side codec benchmark against the PyTorch peer (codec_reference.py), in one sitting:
# alternates `tessera bench codec` and the peer ROUNDS times (4096 × 4096, 8 peers, 2 threads by
# default), prints every JSON line, then the median per stage and the speed-up.
# Needs the reference venv: python3 -m venv /tmp/tessera-ref && /tmp/tessera-ref/bin/pip install torch safetensors numpy
# TESSERA_BIN overrides the binary (default: build release into .build).
set -euo pipefail
cd "$(dirname "$0")/.."
reference=${TESSERA_REFERENCE:-../shared/reference}
python=${TESSERA_REFERENCE_PYTHON:-/tmp/tessera-ref/bin/python}
rounds=${ROUNDS:-5}
threads=${THREADS:-2}
rows=${ROWS:-4096}
cols=${COLS:-4096}
peers=${PEERS:-8}
if [ -z "${TESSERA_BIN:-}" ]; then
    swift build -c release --product tessera >/dev/null
    TESSERA_BIN=.build/release/tessera
fi
tmp=$(mktemp -d)
for round in $(seq "$rounds"); do
    "$TESSERA_BIN" bench codec --rows "$rows" --cols "$cols" --peers "$peers" --threads "$threads" | tee -a "$tmp/tessera"
    "$python" "$reference/codec_reference.py" --rows "$rows" --cols "$cols" --peers "$peers" --threads "$threads" | tee -a "$tmp/pytorch"
done
python3 - "$tmp/tessera" "$tmp/pytorch" <<'PY'
import json, statistics, sys
t = [json.loads(l) for l in open(sys.argv[1])]
p = [json.loads(l) for l in open(sys.argv[2])]
def med(rows, key): return statistics.median(r[key] for r in rows)
for stage in ("encode_ms", "decode_ms", "aggregate_ms"):
    a, b = med(t, stage), med(p, stage)
    print(f"{stage}: tessera {a:.2f} (runs {sorted(r[stage] for r in t)}), pytorch {b:.2f} (runs {sorted(r[stage] for r in p)}), speed-up {b / a:.2f}x")
for key in t[0]:
    if key not in ("encode_ms", "decode_ms", "aggregate_ms") and isinstance(t[0][key], float):
        print(f"tessera {key}: median {med(t, key)}")
PY
rm -rf "$tmp"
