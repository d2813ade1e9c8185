#!/usr/bin/env bash
# The main job. Until the network simulation lands, a short training demo: the reference Llama
# model (small configuration) trained with AdamW on the synthetic Markov corpus, printing the
# loss of every step and, at the end, the gap to the corpus's exact entropy floor. Extra
# arguments go to `tessera model train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-packages.sh
swift build -c release --product tessera
exec .build/release/tessera model train --config small --steps 80 --batch 8 --sequence-length 64 --synthetic "$@"
