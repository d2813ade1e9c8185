#!/usr/bin/env bash
# Side-by-side codec benchmark against the PyTorch peer (codec_reference.py), in one sitting:
# alternates `tessera bench codec` and the peer ROUNDS times (4096 × 4096, 8 peers, 2 threads by
# default), prints every JSON line, then the median per stage and the speed-up.
# Needs the reference venv: python3 -m venv /tmp/tessera-ref && /tmp/tessera-ref/bin/pip install torch safetensors numpy
# TESSERA_BIN overrides the binary (default: build release into .build); BASELINE_BIN, if set,
# is a second tessera binary (e.g. an older commit) run in the same rounds, for before/after.
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
: > "$tmp/baseline"
for round in $(seq "$rounds"); do
    if [ -n "${BASELINE_BIN:-}" ]; then
        "$BASELINE_BIN" bench codec --rows "$rows" --cols "$cols" --peers "$peers" --threads "$threads" | tee -a "$tmp/baseline"
    fi
    "$TESSERA_BIN" bench codec --rows "$rows" --cols "$cols" --peers "$peers" --threads "$threads" | tee -a "$tmp/tessera"
    "$python" "$reference/codec_reference.py" --rows "$rows" --cols "$cols" --peers "$peers" --threads "$threads" | tee -a "$tmp/pytorch"
done
python3 - "$tmp/tessera" "$tmp/pytorch" "$tmp/baseline" <<'PY'
import json, statistics, sys
t = [json.loads(l) for l in open(sys.argv[1])]
p = [json.loads(l) for l in open(sys.argv[2])]
b = [json.loads(l) for l in open(sys.argv[3])]
def med(rows, key): return statistics.median(r[key] for r in rows)
for stage in ("encode_ms", "decode_ms", "aggregate_ms"):
    a, c = med(t, stage), med(p, stage)
    line = f"{stage}: tessera {a:.2f} (runs {sorted(r[stage] for r in t)}), pytorch {c:.2f} (runs {sorted(r[stage] for r in p)}), speed-up {c / a:.2f}x"
    if b:
        line += f"; baseline {med(b, stage):.2f} (speed-up vs pytorch {c / med(b, stage):.2f}x)"
    print(line)
for key in ("decode_into_reused_ms", "aggregate_into_reused_ms"):
    if key in t[0]:
        base = "decode_ms" if key.startswith("decode") else "aggregate_ms"
        print(f"{key} (reused output buffer, not like-for-like): tessera {med(t, key):.2f}, pytorch {base} {med(p, base):.2f}, ratio {med(p, base) / med(t, key):.2f}x")
for key in t[0]:
    if key not in ("encode_ms", "decode_ms", "aggregate_ms", "decode_into_reused_ms", "aggregate_into_reused_ms") and isinstance(t[0][key], float):
        print(f"tessera {key}: median {med(t, key)}")
PY
rm -rf "$tmp"
