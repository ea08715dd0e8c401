#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every CTest test
# (unit, end-to-end, the Python golden-vector decoder) and a short fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh
ctest --test-dir "${LIP_BUILD_DIR:-build}" --output-on-failure -j "${LIP_JOBS:-$(nproc)}"
bash deploy/fuzz.sh
