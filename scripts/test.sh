#!/usr/bin/env bash
# Runs the whole test suite (and builds every example) from a fresh machine with the Swift
# toolchain: installs the system libraries when missing, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-packages.sh
swift build --build-tests
swift test --skip-build
# The examples are part of the suite: they must keep building and running.
swift run --skip-build TrainTinyLlama --steps 30
swift run --skip-build CustomScorer --windows 4
