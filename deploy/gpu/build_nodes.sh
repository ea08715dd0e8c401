#!/usr/bin/env bash
# On the GPU machine: builds the nodes and tools with gRPC against the machine's CUDA LibTorch
# (-DLIP_CUDA=ON): lip-registry, lip-receiver, lip-sender, lipctl (with `lipctl bench`), lip-model,
# demo_models_test and decoder_ops_test (the fused kernels on this GPU). gRPC++, protobuf's runtime,
# Abseil, re2, c-ares, OpenSSL, zlib, SQLite and the ICU
# headers come from the Debian 12 .debs of deploy/gpu/pack_deps.sh, unpacked into a private prefix
# (deploy/gpu/unpack_deps.sh), never into /; protoc and the protobuf 3.21 headers are the image's.
#   bash deploy/gpu/build_nodes.sh DEPS_DIR BUILD_DIR
# Run the binaries with LD_LIBRARY_PATH=/tmp/lip-deps/usr/lib/x86_64-linux-gnu (the carried libraries).
# JOBS (default 16) sets ninja's parallelism; EXTRA_CMAKE_ARGS is passed to cmake (e.g. -DLIP_CUDA_GRAPHS=OFF).
set -euo pipefail
DEPS=$(cd "${1:?deps dir}" && pwd)
BUILD=${2:?build dir}
ROOT=$(pwd)
source "$ROOT/deploy/gpu/unpack_deps.sh" "$DEPS"
# nvcc for the decoder block's fused kernels (bridge/model/cuda/), wherever the image keeps it.
export CUDACXX=${CUDACXX:-$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)}
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIP_CUDA=ON -DLIP_WITH_GRPC=ON \
  -DLIP_BUILD_BENCHMARKS=ON -DICU_ROOT="$PREFIX/icu" \
  -DProtobuf_INCLUDE_DIR=/usr/include -DProtobuf_PROTOC_EXECUTABLE=/usr/bin/protoc \
  -DProtobuf_LIBRARY=/usr/lib/x86_64-linux-gnu/libprotobuf.so \
  -DGRPC_CPP_PLUGIN="$PREFIX/usr/bin/grpc_cpp_plugin" -DOPENSSL_ROOT_DIR="$PREFIX/usr" \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr;$PREFIX/usr/share/cmake" \
  -DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include" -DCMAKE_EXE_LINKER_FLAGS="-L$LIBDIR" \
  -DCMAKE_SHARED_LINKER_FLAGS="-L$LIBDIR" ${EXTRA_CMAKE_ARGS:-} > "$BUILD.cmake.log" 2>&1 ||
  { tail -40 "$BUILD.cmake.log"; exit 1; }
# -k 0: build every target that can be built, then report the ones that failed.
ninja -C "$BUILD" -j"${JOBS:-16}" -k 0 lip-model demo_models_test decoder_ops_test lip-registry lip-receiver lip-sender lipctl \
  > "$BUILD.ninja.log" 2>&1 ||
  { grep -E "error|FAILED" "$BUILD.ninja.log" | head -40; echo "some targets failed to build" >&2; }
for b in bridge/lip-model tests/model/demo_models_test server/lip-registry server/lip-receiver \
         server/lip-sender client/lipctl; do
  [ -x "$BUILD/$b" ] && echo "built: $b" || { echo "MISSING: $b" >&2; missing=1; }
done
exit ${missing:-0}
