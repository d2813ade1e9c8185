#!/usr/bin/env bash
# The main job: a whole Tessera network on one machine — a LocalChain on a virtual clock,
# storage whose timestamps follow it, the synthetic Markov corpus, a small Llama, 6 honest
# miners, 1 validator and 8 adversaries from the zoo — with a per-window table, the final
# weights, the loss against the corpus's entropy floor and a centralized AdamW baseline at the
# same token count. Writes runs/simulate-<time>/ (report.json, loss.svg, weights.svg).
# Extra arguments go to `tessera simulate` (e.g. --windows 80, --adversaries all, --overlap).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-packages.sh
swift build -c release --product tessera
exec .build/release/tessera simulate --baseline "$@"
