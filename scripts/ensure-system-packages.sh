#!/usr/bin/env bash
# Installs the system libraries Tessera links against (OpenBLAS, zstd, libsodium, pkg-config) when they
# are missing. Debian/Ubuntu only; uses sudo when not running as root.
set -euo pipefail
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas libzstd libsodium 2>/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Tessera needs OpenBLAS, zstd and libsodium development files (pkg-config: openblas, libzstd, libsodium)." >&2
    echo "Install them with your system's package manager and run this again." >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "Installing libopenblas-dev, libzstd-dev, libsodium-dev and pkg-config ..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenblas-dev libzstd-dev libsodium-dev pkg-config >/dev/null
pkg-config --exists openblas libzstd libsodium
