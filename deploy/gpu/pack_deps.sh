#!/usr/bin/env bash
# Here (Debian 12): packs what the GPU machine's image (Ubuntu 24.04 with CUDA LibTorch, protobuf 3.21,
# sqlite, OpenSSL, ICU 74 libraries but no ICU headers, no Abseil) lacks to build the bridge tools:
# the Abseil, nlohmann-json and ISA-L (CRC32C) .debs and the ICU C/C++ headers. 2.4 MB into .device/gpu-deps
# (git-ignored); carry that folder in the device call and run deploy/gpu/build_bridge_tools.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
DST=.device/gpu-deps
mkdir -p "$DST"
(cd "$DST" && apt-get download libabsl-dev libabsl20220623 nlohmann-json3-dev libisal-dev libisal2 >/dev/null)
tar cJf "$DST/icu-headers.tar.xz" -C /usr/include unicode
du -sh "$DST"
