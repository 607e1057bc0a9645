#!/usr/bin/env bash
# Installs the system packages lstm builds against, if any is missing (Debian/Ubuntu):
# OpenBLAS (all matrix products go through CBLAS) and HDF5 1.10 (datasets and weights).
set -euo pipefail
packages=(libopenblas-dev libhdf5-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: ${packages[*]} already installed"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
