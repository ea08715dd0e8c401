#!/usr/bin/env bash
# On the GPU machine: builds the bridge tools (lip-model, lip-train, lip-eval, lip-vector-bridge),
# demo_models_test, graphed_function_test and decoder_ops_test against the machine's CUDA LibTorch (-DLIP_CUDA=ON, no
# gRPC), then runs demo_models_test as the check that the tokenizers and the runtime behave there as
# here, and graphed_function_test as the check of CUDA-graph capture and replay on that GPU.
#   bash deploy/gpu/build_bridge_tools.sh DEPS_DIR BUILD_DIR     (DEPS_DIR from deploy/gpu/pack_deps.sh)
# The .debs are unpacked into a private prefix, never into / (deploy/gpu/unpack_deps.sh, which also
# retargets the ICU headers). Protobuf is pinned to the system's (3.21, as here): LibTorch's include
# folder carries other protobuf headers that must not win.
set -euo pipefail
DEPS=$(cd "${1:?deps dir}" && pwd)
BUILD=${2:?build dir}
ROOT=$(pwd)
source "$ROOT/deploy/gpu/unpack_deps.sh" "$DEPS"
# nvcc for the decoder block's fused kernels (bridge/model/cuda/), wherever the image keeps it.
export CUDACXX=${CUDACXX:-$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)}
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIP_CUDA=ON -DLIP_WITH_GRPC=OFF \
  -DLIP_BUILD_BENCHMARKS=OFF -DICU_ROOT="$PREFIX/icu" \
  -DProtobuf_INCLUDE_DIR=/usr/include -DProtobuf_PROTOC_EXECUTABLE=/usr/bin/protoc \
  -DProtobuf_LIBRARY=/usr/lib/x86_64-linux-gnu/libprotobuf.so \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr;$PREFIX/usr/share/cmake" \
  -DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include" > "$BUILD.cmake.log" 2>&1 ||
  { tail -40 "$BUILD.cmake.log"; exit 1; }
ninja -C "$BUILD" -j"${JOBS:-16}" lip-model demo_models_test graphed_function_test decoder_ops_test > "$BUILD.ninja.log" 2>&1 ||
  { grep -E "error|Error" "$BUILD.ninja.log" | head -30; tail -20 "$BUILD.ninja.log"; exit 1; }
# LIP_GPU_TOOLS="" builds lip-model and demo_models_test only (e.g. a runtime A/B).
TOOLS=${LIP_GPU_TOOLS-lip-train lip-eval lip-vector-bridge}
if [ -n "$TOOLS" ]; then
  ninja -C "$BUILD" -j"${JOBS:-16}" -k 0 $TOOLS >> "$BUILD.ninja.log" 2>&1 ||
    { grep -E "error" "$BUILD.ninja.log" | head -30; echo "some bridge tools failed to build" >&2; }
fi
echo "built: $(ls "$BUILD/bridge" | grep '^lip-' | tr '\n' ' ')"
# LIP_GPU_TEST=0 skips the check (the caller runs it later, e.g. once new demo models are in place).
if [ "${LIP_GPU_TEST:-1}" != 0 ]; then
  "$BUILD/tests/model/demo_models_test" > "$BUILD.demo_models_test.log" 2>&1 ||
    { tail -40 "$BUILD.demo_models_test.log"; echo "demo_models_test FAILED" >&2; exit 1; }
  grep -E "PASSED|FAILED" "$BUILD.demo_models_test.log"
  # The CUDA-graph function on this GPU (skipped on a machine without one).
  "$BUILD/tests/model/graphed_function_test" > "$BUILD.graphed_function_test.log" 2>&1 ||
    { tail -40 "$BUILD.graphed_function_test.log"; echo "graphed_function_test FAILED" >&2; exit 1; }
  grep -E "PASSED|SKIPPED|FAILED" "$BUILD.graphed_function_test.log"
  # The fused kernels against LibTorch's ops on this GPU (skipped without a GPU or without nvcc).
  "$BUILD/tests/model/decoder_ops_test" > "$BUILD.decoder_ops_test.log" 2>&1 ||
    { tail -40 "$BUILD.decoder_ops_test.log"; echo "decoder_ops_test FAILED" >&2; exit 1; }
  grep -E "PASSED|SKIPPED|FAILED" "$BUILD.decoder_ops_test.log"
fi
