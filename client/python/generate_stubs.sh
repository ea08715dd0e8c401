#!/usr/bin/env bash
# Regenerates the Python protobuf and gRPC modules of the LIP client (src/lip/v1/*_pb2.py, *_pb2.pyi,
# *_pb2_grpc.py) from proto/lip/v1/*.proto with Debian's protoc and grpc_python_plugin
# (packages protobuf-compiler, protobuf-compiler-grpc). The modules are committed so that
# `pip install ./client/python` needs neither; tests/python/test_python_client_package.py fails when they
# are stale. Run it after any change under proto/. (Debian 12's python3-grpc-tools is not used: its
# grpc_tools.protoc bundles protoc 3.5.1, whose Python output the 3.21 protobuf runtime refuses.)
#
#   bash client/python/generate_stubs.sh [OUT_DIR]   (default: client/python/src, in place)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$HERE/src}
PROTOC=${PROTOC:-protoc}
PLUGIN=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}
[ -n "$PLUGIN" ] || { echo "generate_stubs: grpc_python_plugin not found (apt-get install protobuf-compiler-grpc)" >&2; exit 1; }
mkdir -p "$OUT/lip/v1"
# Message modules for every file; service modules for the three services (packet.proto has none).
"$PROTOC" -I "$ROOT/proto" --python_out="$OUT" --pyi_out="$OUT" "$ROOT"/proto/lip/v1/*.proto
"$PROTOC" -I "$ROOT/proto" --grpc_python_out="$OUT" --plugin=protoc-gen-grpc_python="$PLUGIN" \
  "$ROOT/proto/lip/v1/receiver.proto" "$ROOT/proto/lip/v1/registry.proto" "$ROOT/proto/lip/v1/sender.proto"
