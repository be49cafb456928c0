#!/usr/bin/env bash
# The main job: installs the dependencies, builds the vkernel and its default
# root filesystem (busybox from busybox-static), boots it and runs a shell
# command there.
# Needs root for the first run (apt-get) and access to /dev/kvm.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

generator=()
[[ -f build/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --target vkernel

exec build/bin/vkernel -- /bin/sh -c 'echo hello from the vkernel; uname -a'
