#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every CTest test
# (unit, end-to-end, the Python golden-vector decoder), then builds the tree
# again with clang + ASan + UBSan (build-asan/) and runs every test under the
# sanitizers (the node end-to-end tests start the sanitized node binaries), and
# a short run of each fuzz target. LIP_SKIP_SANITIZE=1 skips the second tree
# (and the fuzz runs, which use it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh
ctest --test-dir "${LIP_BUILD_DIR:-build}" --output-on-failure -j "${LIP_JOBS:-$(nproc)}"
if [ "${LIP_SKIP_SANITIZE:-0}" != 1 ]; then
  bash deploy/sanitize.sh asan
  bash deploy/fuzz.sh
fi
