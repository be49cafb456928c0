#!/usr/bin/env bash
# Installs everything the vkernel needs to build and test, by Debian package
# name, idempotently. Run as root (or with sudo available).
set -euo pipefail

packages=(
    cmake g++ make ninja-build pkg-config
    liburing-dev libboost-context-dev libfmt-dev
    googletest libgtest-dev libgmock-dev
    linux-libc-dev musl-tools busybox-static
    e2fsprogs cpio python3
    tmux util-linux
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
