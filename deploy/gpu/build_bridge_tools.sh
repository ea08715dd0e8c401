#!/usr/bin/env bash
# On the GPU machine: builds the bridge tools (lip-model, lip-train, lip-eval, lip-vector-bridge) and
# demo_models_test against the machine's CUDA LibTorch (-DLIP_CUDA=ON, no gRPC), then runs
# demo_models_test as the check that the tokenizers and the runtime behave there as here.
#   bash deploy/gpu/build_bridge_tools.sh DEPS_DIR BUILD_DIR     (DEPS_DIR from deploy/gpu/pack_deps.sh)
# The .debs are unpacked into a private prefix, never into /. ICU: the image has the ICU runtime
# (libicuuc.so.NN) but no headers; the carried Debian headers are retargeted to the machine's major
# version NN (the symbol suffix _NN and namespace icu_NN) — the C and C++ APIs the tokenizer uses
# (Normalizer2, UnicodeString, u_charType) are stable across these versions, and demo_models_test's
# tokenizer cases (NFC, combining marks, many scripts) check it. Protobuf is pinned to the system's
# (3.21, as here): LibTorch's include folder carries other protobuf headers that must not win.
set -euo pipefail
DEPS=$(cd "${1:?deps dir}" && pwd)
BUILD=${2:?build dir}
ROOT=$(pwd)
PREFIX=/tmp/lip-deps
rm -rf "$PREFIX" && mkdir -p "$PREFIX/usr/include" "$PREFIX/icu/lib"
for f in "$DEPS"/*.deb; do dpkg -x "$f" "$PREFIX"; done
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$LIBDIR:${LD_LIBRARY_PATH:-}

ICU_SO=$(ls /lib/x86_64-linux-gnu/libicuuc.so.[0-9]* 2>/dev/null | grep -E 'so\.[0-9]+$' | head -1)
[ -n "$ICU_SO" ] || { echo "no ICU runtime (libicuuc.so.NN) on this machine" >&2; exit 1; }
NN=${ICU_SO##*.so.}
tar xJf "$DEPS/icu-headers.tar.xz" -C "$PREFIX/icu"
mkdir -p "$PREFIX/icu/include" && mv "$PREFIX/icu/unicode" "$PREFIX/icu/include/"
OLD=$(sed -n 's/^#define U_ICU_VERSION_MAJOR_NUM \([0-9]*\)/\1/p' "$PREFIX/icu/include/unicode/uvernum.h")
sed -i -e "s/^#define U_ICU_VERSION_MAJOR_NUM $OLD/#define U_ICU_VERSION_MAJOR_NUM $NN/" \
       -e "s/^#define U_ICU_VERSION_SUFFIX _$OLD/#define U_ICU_VERSION_SUFFIX _$NN/" \
       -e "s/^#define U_ICU_VERSION \"$OLD\.\([0-9]*\)\"/#define U_ICU_VERSION \"$NN.1\"/" \
       -e "s/^#define U_ICU_VERSION_SHORT \"$OLD\"/#define U_ICU_VERSION_SHORT \"$NN\"/" \
       "$PREFIX/icu/include/unicode/uvernum.h"
for lib in uc i18n data; do ln -sf "/lib/x86_64-linux-gnu/libicu$lib.so.$NN" "$PREFIX/icu/lib/libicu$lib.so"; done
echo "ICU: headers of $OLD retargeted to the machine's $NN"

TORCH_CMAKE=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
# LibTorch's include folder ships an older protobuf's headers (google/protobuf, for caffe2) and ends
# up ahead of the system's on the protobuf users' include path; LIP's generated code needs the system
# 3.21 headers. LibTorch's C++ API never includes them, so on this throwaway machine they are moved aside.
TORCH_INC=$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"include"))')
[ -d "$TORCH_INC/google" ] && mv "$TORCH_INC/google" "$TORCH_INC/google.lip-hidden" || true
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIP_CUDA=ON -DLIP_WITH_GRPC=OFF \
  -DLIP_BUILD_BENCHMARKS=OFF -DICU_ROOT="$PREFIX/icu" \
  -DProtobuf_INCLUDE_DIR=/usr/include -DProtobuf_PROTOC_EXECUTABLE=/usr/bin/protoc \
  -DProtobuf_LIBRARY=/usr/lib/x86_64-linux-gnu/libprotobuf.so \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr;$PREFIX/usr/share/cmake" \
  -DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include" > "$BUILD.cmake.log" 2>&1 ||
  { tail -40 "$BUILD.cmake.log"; exit 1; }
ninja -C "$BUILD" -j"${JOBS:-16}" lip-model demo_models_test > "$BUILD.ninja.log" 2>&1 ||
  { grep -E "error|Error" "$BUILD.ninja.log" | head -30; tail -20 "$BUILD.ninja.log"; exit 1; }
ninja -C "$BUILD" -j"${JOBS:-16}" -k 0 lip-train lip-eval lip-vector-bridge >> "$BUILD.ninja.log" 2>&1 ||
  { grep -E "error" "$BUILD.ninja.log" | head -30; echo "some bridge tools failed to build" >&2; }
echo "built: $(ls "$BUILD/bridge" | grep '^lip-' | tr '\n' ' ')"
# LIP_GPU_TEST=0 skips the check (the caller runs it later, e.g. once new demo models are in place).
if [ "${LIP_GPU_TEST:-1}" != 0 ]; then
  "$BUILD/tests/model/demo_models_test" > "$BUILD.demo_models_test.log" 2>&1 ||
    { tail -40 "$BUILD.demo_models_test.log"; echo "demo_models_test FAILED" >&2; exit 1; }
  grep -E "PASSED|FAILED" "$BUILD.demo_models_test.log"
fi
