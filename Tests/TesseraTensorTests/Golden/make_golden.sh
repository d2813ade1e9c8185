#!/usr/bin/env bash
# Regenerates the PyTorch golden files for the Llama parity tests.
# Needs the reference venv (see ../../../../shared/reference/README.md):
#   python3 -m venv /tmp/tessera-ref && /tmp/tessera-ref/bin/pip install torch safetensors numpy
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reference=${TESSERA_REFERENCE:-$here/../../../../shared/reference}
python=${TESSERA_REFERENCE_PYTHON:-/tmp/tessera-ref/bin/python}
# Grouped-query attention (4 query heads, 2 key/value heads), 2 layers, batch 3.
cat > "$here/llama-tiny/config.json" <<'JSON'
{"vocab": 64, "dim": 32, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 48, "context": 16, "rope_theta": 10000.0, "norm_eps": 1e-05}
JSON
"$python" "$reference/llama_reference.py" export --config "$here/llama-tiny/config.json" --out "$here/llama-tiny" --batch 3 --seed 7
# Multi-head attention without grouping, wider heads, longer context.
cat > "$here/llama-mha/config.json" <<'JSON'
{"vocab": 96, "dim": 48, "layers": 1, "heads": 3, "kv_heads": 3, "ffn": 64, "context": 40, "rope_theta": 500.0, "norm_eps": 1e-06}
JSON
"$python" "$reference/llama_reference.py" export --config "$here/llama-mha/config.json" --out "$here/llama-mha" --batch 2 --seed 11
"$python" "$here/make_adamw_golden.py" > "$here/adamw.json"
"$python" "$here/make_sgd_schedule_golden.py" > "$here/sgd_schedules.json"
