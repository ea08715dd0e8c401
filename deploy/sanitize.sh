#!/usr/bin/env bash
# Builds LIP with sanitizers into its own build dir and runs the CTest tests
# under them (docs/reliability.md §Sanitizers).
#
#   bash deploy/sanitize.sh asan [--build-only] [CTEST_REGEX]   ASan + UBSan, build-asan/ (CI runs this)
#   bash deploy/sanitize.sh tsan [--build-only] [CTEST_REGEX]   TSan, build-tsan/ (too slow for CI)
#
# Both use clang. The asan tree is also the fuzz tree (-DLIP_FUZZ=ON: libFuzzer
# coverage on everything, the fuzz binaries of tests/fuzz/; deploy/fuzz.sh uses
# it). The node end-to-end tests (tests/server/) start the sanitized node
# binaries of the same tree, which inherit the options below.
#
# LibTorch 1.13, gRPC and protobuf from Debian are not instrumented; the
# run-time options and suppressions for that live in deploy/sanitizers/ (each
# entry says why). Default CTEST_REGEX: every test (the Python tests too: they
# call the sanitized lipctl). LIP_SANITIZE_BUILD_DIR overrides the build dir,
# LIP_JOBS the parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KIND=${1:-asan}
shift || true
BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; shift; fi
REGEX=${1:-}
JOBS=${LIP_JOBS:-$(nproc)}

case "$KIND" in
  asan)
    BUILD_DIR=${LIP_SANITIZE_BUILD_DIR:-build-asan}
    CONFIG=(-DLIP_SANITIZE=address,undefined -DLIP_FUZZ=ON)
    ;;
  tsan)
    BUILD_DIR=${LIP_SANITIZE_BUILD_DIR:-build-tsan}
    CONFIG=(-DLIP_SANITIZE=thread)
    ;;
  *) echo "usage: bash deploy/sanitize.sh asan|tsan [--build-only] [CTEST_REGEX]" >&2; exit 2 ;;
esac

# -O1: sanitizer reports stay readable and the build is faster than -O2; -g1
# (line tables) is enough for symbolized stacks.
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    -DLIP_BUILD_BENCHMARKS=OFF "${CONFIG[@]}"
fi
start=$(date +%s)
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "sanitize[$KIND]: build took $(( $(date +%s) - start )) s"
[ "$BUILD_ONLY" = 1 ] && exit 0

SUPP=$ROOT/deploy/sanitizers
# halt_on_error / abort: a finding fails the test that triggered it (a node
# process that aborts makes its end-to-end test fail).
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$SUPP/ubsan.supp"
export ASAN_OPTIONS="detect_leaks=1:alloc_dealloc_mismatch=0:detect_odr_violation=0:strict_string_checks=0:abort_on_error=1:print_summary=1"
export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp:report_signal_unsafe=0:exitcode=66"
# LibTorch's intra-op threads (libgomp, not instrumented) are invisible to
# TSan and only slow ASan down: one thread.
export OMP_NUM_THREADS=1
args=(--test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 1200)
[ -n "$REGEX" ] && args+=(-R "$REGEX")
start=$(date +%s)
rc=0
ctest "${args[@]}" || rc=$?
echo "sanitize[$KIND]: tests took $(( $(date +%s) - start )) s, ctest exit $rc"
exit $rc
