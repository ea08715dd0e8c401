#!/usr/bin/env bash
# Short libFuzzer runs of every fuzz target (tests/fuzz/), as in CI:
#   lip_packet_fuzzer            the LIP v1 packet decoder      (seeds: tests/fuzz/corpus, tests/data/lip-v1)
#   lip_compact_fuzzer           LIP 1.1 compact requests       (seeds: tests/fuzz/compact_corpus, tests/data/lip-v1.1)
#   lip_receiver_request_fuzzer  request bytes -> receiver service -> batcher -> tiny model
#                                                               (seeds: tests/fuzz/receiver_request_corpus)
#   lip_bridge_upload_fuzzer     the registry's bridge upload   (seeds: tests/fuzz/bridge_upload_corpus)
# They are built with clang + ASan + UBSan + libFuzzer coverage in the sanitizer tree
# (build-asan/, configured by deploy/sanitize.sh; override with LIP_FUZZ_BUILD_DIR). Each runs
# LIP_FUZZ_SECONDS (default 40) from its committed corpus; new inputs go to a scratch directory,
# the committed corpora are not modified. A crash leaves its input in <build>/fuzz-artifacts/.
# LIP_FUZZ_TARGETS limits the run to some targets (space-separated short names: packet compact request upload).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_FUZZ_BUILD_DIR:-build-asan}
FUZZ_SECONDS=${LIP_FUZZ_SECONDS:-40}
TARGETS=${LIP_FUZZ_TARGETS:-packet compact request upload}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  LIP_SANITIZE_BUILD_DIR=$BUILD_DIR bash deploy/sanitize.sh asan --build-only
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD_DIR/fuzz-artifacts"
export ASAN_OPTIONS="detect_leaks=1:alloc_dealloc_mismatch=0:detect_odr_violation=0"
export LSAN_OPTIONS="suppressions=$PWD/deploy/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/deploy/sanitizers/ubsan.supp"
export OMP_NUM_THREADS=1

run() {  # run SHORT BINARY MAX_LEN CORPUS_DIR...
  local short=$1 binary=$2 max_len=$3; shift 3
  cmake --build "$BUILD_DIR" --target "$binary" -j "${LIP_JOBS:-$(nproc)}"
  mkdir -p "$work/$short"
  echo "fuzz: running $binary for ${FUZZ_SECONDS}s"
  "$BUILD_DIR/tests/fuzz/$binary" \
    -max_total_time="$FUZZ_SECONDS" -max_len="$max_len" -timeout=20 -rss_limit_mb=3072 \
    -artifact_prefix="$BUILD_DIR/fuzz-artifacts/$short-" -print_final_stats=1 \
    "$work/$short" "$@"
  echo "fuzz: $binary: no finding in ${FUZZ_SECONDS}s"
}
for t in $TARGETS; do
  case "$t" in
    packet) run packet lip_packet_fuzzer 65536 tests/fuzz/corpus tests/data/lip-v1 ;;
    compact) run compact lip_compact_fuzzer 8192 tests/fuzz/compact_corpus tests/data/lip-v1.1 ;;
    request) run request lip_receiver_request_fuzzer 8192 tests/fuzz/receiver_request_corpus ;;
    upload) run upload lip_bridge_upload_fuzzer 8192 tests/fuzz/bridge_upload_corpus ;;
    *) echo "fuzz: unknown target $t (packet compact request upload)" >&2; exit 2 ;;
  esac
done
