#!/usr/bin/env bash
# Here (Debian 12): packs what the GPU machine's image (Ubuntu 24.04 with CUDA LibTorch, protobuf 3.21,
# sqlite, OpenSSL, ICU 74 libraries but no ICU headers, no Abseil, no gRPC) lacks to build the bridge
# tools and the nodes: the Abseil, nlohmann-json, ISA-L (CRC32C) and gRPC C++ .debs with what they link
# (re2, c-ares, OpenSSL 3.0, zlib, protobuf 3.21 runtime, SQLite) and the ICU C/C++ headers. About 21 MB
# into .device/gpu-deps (git-ignored); carry that folder in the device call and run
# deploy/gpu/build_bridge_tools.sh or deploy/gpu/build_nodes.sh there. The .debs are unpacked into a
# private prefix there (deploy/gpu/unpack_deps.sh), never into /.
set -euo pipefail
cd "$(dirname "$0")/../.."
DST=.device/gpu-deps
mkdir -p "$DST"
(cd "$DST" && apt-get download libabsl-dev libabsl20220623 nlohmann-json3-dev libisal-dev libisal2 \
   libgrpc++-dev libgrpc-dev libgrpc29 libgrpc++1.51 protobuf-compiler-grpc libprotobuf32 libprotoc32 \
   libre2-dev libre2-9 libc-ares-dev libc-ares2 libssl-dev libssl3 zlib1g-dev libsqlite3-dev libsqlite3-0 \
   prometheus-cpp-dev libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprometheus-cpp-push1.0 \
   civetweb libcivetweb-dev libcivetweb1 libcurl4-openssl-dev libcurl4 >/dev/null)
tar cJf "$DST/icu-headers.tar.xz" -C /usr/include unicode
du -sh "$DST"
