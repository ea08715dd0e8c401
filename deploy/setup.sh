#!/usr/bin/env bash
# Installs every Debian 12 package LIP needs to build, test and run.
# Idempotent and non-interactive: packages already present are skipped, so a
# second run does nothing. Runs apt as root, or through sudo when not root.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates ccache
  clang libclang-rt-14-dev            # libFuzzer target
  # libraries
  libtorch-dev                        # LibTorch 1.13 (CPU)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev openssl
  prometheus-cpp-dev                  # node metrics (registry, text serializer)
  libisal-dev                         # CRC32C of packet payloads (Intel ISA-L)
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libsentencepiece-dev libsqlite3-dev libicu-dev
  # tests in another language: decode golden packets with Python protobuf; the Python client
  # (client/python: grpcio; setuptools, wheel, venv and pip to install it offline)
  python3 python3-protobuf python3-grpcio python3-setuptools python3-wheel python3-venv python3-pip
  # promtool: the metrics exposition test checks every node's /metrics with it
  prometheus
  # benchmarks/plot_load_test.py: latency vs throughput plots of the load test
  python3-matplotlib
  # fast BLAS for LibTorch on CPU (Debian's default reference BLAS makes bridge training ~10x slower)
  libopenblas0-pthread
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
