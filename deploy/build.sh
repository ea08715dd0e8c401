#!/usr/bin/env bash
# Configures and builds LIP into build/ (override with LIP_BUILD_DIR).
# Extra arguments are passed to CMake's configure step. LIP_TARGETS="a b" builds only those
# targets (and what they need); LIP_JOBS sets the parallel jobs (default: every CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
JOBS=${LIP_JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja "$@"
fi
targets=()
for target in ${LIP_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$BUILD_DIR" -j "$JOBS" ${targets[@]+"${targets[@]}"}
