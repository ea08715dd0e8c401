#!/usr/bin/env bash
# On the GPU machine, sourced by build_bridge_tools.sh and build_nodes.sh:
#   source deploy/gpu/unpack_deps.sh DEPS_DIR
# unpacks the .debs of deploy/gpu/pack_deps.sh into the private prefix /tmp/lip-deps (never into /),
# retargets the carried ICU headers to the machine's ICU and exports PREFIX, LIBDIR and
# LD_LIBRARY_PATH. ICU: the image has the ICU runtime (libicuuc.so.NN) but no headers; the carried
# Debian headers are retargeted to the machine's major version NN (the symbol suffix _NN and namespace
# icu_NN) — the C and C++ APIs the tokenizer uses (Normalizer2, UnicodeString, u_charType) are stable
# across these versions, and demo_models_test's tokenizer cases (NFC, combining marks, many scripts)
# check it.
# Sourced, not run: no `set -euo pipefail` of its own (it would change the caller's shell); it runs
# under the sourcing script's options and reports a failure with `return 1`.
DEPS=$(cd "${1:?deps dir}" && pwd)
PREFIX=/tmp/lip-deps
rm -rf "$PREFIX" && mkdir -p "$PREFIX/usr/include" "$PREFIX/icu/lib"
for f in "$DEPS"/*.deb; do dpkg -x "$f" "$PREFIX"; done
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
export PREFIX LIBDIR LD_LIBRARY_PATH=$LIBDIR:${LD_LIBRARY_PATH:-}

ICU_SO=$(ls /lib/x86_64-linux-gnu/libicuuc.so.[0-9]* 2>/dev/null | grep -E 'so\.[0-9]+$' | head -1)
[ -n "$ICU_SO" ] || { echo "no ICU runtime (libicuuc.so.NN) on this machine" >&2; return 1; }
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

# LibTorch's include folder ships an older protobuf's headers (google/protobuf, for caffe2) and ends
# up ahead of the system's on the protobuf users' include path; LIP's generated code needs the system
# 3.21 headers. LibTorch's C++ API never includes them, so on this throwaway machine they are moved aside.
TORCH_CMAKE=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
TORCH_INC=$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"include"))')
[ -d "$TORCH_INC/google" ] && mv "$TORCH_INC/google" "$TORCH_INC/google.lip-hidden" || true
export TORCH_CMAKE
