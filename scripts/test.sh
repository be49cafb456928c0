#!/usr/bin/env bash
# Builds the vkernel with its tests and runs every test with ctest.
#
#   scripts/test.sh                  build in build/ (RelWithDebInfo)
#   scripts/test.sh --sanitize       build in build-asan/ with ASan+UBSan (-DVK_SANITIZE=ON)
#   scripts/test.sh [--sanitize] -- CTEST-ARGS...   e.g. -- -L unit, -- -R elf
#
# Tests that need /dev/kvm are skipped when it is missing, unless the
# environment variable CI is set: then they fail (see README.md, "Tests").
# Run scripts/setup.sh once first (as root) to install the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
while (($#)); do
    case "$1" in
        --sanitize) build=build-asan; cmake_args+=(-DVK_SANITIZE=ON) ;;
        --) shift; break ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "scripts/test.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

for tool in cmake ninja python3 musl-gcc; do
    command -v "$tool" >/dev/null || { echo "scripts/test.sh: $tool is missing: run scripts/setup.sh first" >&2; exit 1; }
done

# Keep whatever generator an existing build directory was made with.
generator=()
[[ -f $build/CMakeCache.txt ]] || generator=(-G Ninja)

cmake -S . -B "$build" "${generator[@]}" "${cmake_args[@]}"
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j2 "$@"
