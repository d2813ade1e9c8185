#!/usr/bin/env bash
# The main job. Until the network simulation lands, a short training demo: the reference
# Llama model (small configuration) trained with AdamW on the bytes of this repository's
# documentation, printing the loss of every step. Extra arguments go to `tessera model train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-packages.sh
swift build -c release --product tessera
exec .build/release/tessera model train --config small --steps 60 --batch 8 --sequence-length 64 \
    --text README.md --text Documentation/RandomNumbers.md --text Documentation/TensorEngine.md "$@"
