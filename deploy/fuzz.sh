#!/usr/bin/env bash
# Short libFuzzer run of the LIP v1 packet decoder (tests/fuzz/), as in CI.
# Builds lip_packet_fuzzer with clang + ASan + UBSan into build-fuzz/ and fuzzes
# for LIP_FUZZ_SECONDS (default 45) starting from the committed seed corpus and
# the golden packets. New inputs go to a scratch directory; the committed corpus
# is not modified. A crash leaves its input in build-fuzz/fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_FUZZ_BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${LIP_FUZZ_SECONDS:-45}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DLIP_FUZZ=ON -DLIP_WITH_TORCH=OFF -DLIP_WITH_GRPC=OFF -DLIP_BUILD_BENCHMARKS=OFF -DLIP_BUILD_TESTS=OFF
fi
cmake --build "$BUILD_DIR" --target lip_packet_fuzzer -j "${LIP_JOBS:-$(nproc)}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$BUILD_DIR/fuzz-artifacts"
echo "fuzz: running lip_packet_fuzzer for ${FUZZ_SECONDS}s"
"$BUILD_DIR/tests/fuzz/lip_packet_fuzzer" \
  -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$BUILD_DIR/fuzz-artifacts/" -print_final_stats=1 \
  "$work" tests/fuzz/corpus tests/data/lip-v1
echo "fuzz: no crash in ${FUZZ_SECONDS}s"
