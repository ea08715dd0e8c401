#!/usr/bin/env bash
# Builds lip-model against the GPU machine's CUDA LibTorch and runs the bf16 parity check and the
# prefill/decode benchmark (see benchmarks/README.md, "Model runtime").
#   bash benchmarks/model_gpu_run.sh DEB_DIR OUT_DIR
# DEB_DIR holds Debian 12 .debs of what that machine lacks (libabsl-dev, libabsl20220623,
# libisal-dev, libisal2, libicu-dev, libicu72: `apt-get download ...` on a Debian 12 box);
# they are unpacked into a private prefix, never into /.
set -euo pipefail
DEBS=${1:?deb dir}
OUT=${2:?out dir}
ROOT=$(pwd)
PREFIX=/tmp/lip-deps
mkdir -p "$PREFIX" "$OUT"
for f in "$DEBS"/*.deb; do dpkg -x "$f" "$PREFIX"; done
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$LIBDIR:${LD_LIBRARY_PATH:-}
TORCH_CMAKE=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

BIN=""
if cmake -S "$ROOT" -B /tmp/build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIP_CUDA=ON -DLIP_WITH_GRPC=OFF \
     -DLIP_BUILD_TESTS=OFF -DLIP_BUILD_BENCHMARKS=OFF -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr" \
     -DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include" > "$OUT/cmake.log" 2>&1 &&
   timeout 240 ninja -C /tmp/build-cuda -j16 lip-model > "$OUT/build.log" 2>&1; then
  BIN=/tmp/build-cuda/bridge/lip-model
  echo "built with CMake (LIP_CUDA=ON)"
else
  echo "CMake build failed (see cmake.log/build.log); building the runtime alone with g++"
  { tail -30 "$OUT/cmake.log" "$OUT/build.log" 2>/dev/null || true; } | tail -40
  TORCH_DIR=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
  g++ -O2 -std=c++17 -DLIP_MODEL_NO_TOKENIZER -DLIP_CUDA=1 -I"$ROOT" -isystem "$PREFIX/usr/include" \
    -isystem "$TORCH_DIR/include" -isystem "$TORCH_DIR/include/torch/csrc/api/include" \
    "$ROOT"/bridge/model/*.cc "$ROOT"/common/wire/sha256.cc "$ROOT"/bridge/tools/model_main.cc -o /tmp/lip-model \
    -L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib" -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10 -lc10_cuda \
    -Wl,--as-needed -Wl,--start-group "$LIBDIR"/libabsl_*.so -Wl,--end-group -lcrypto -lpthread \
    > "$OUT/gxx.log" 2>&1 && BIN=/tmp/lip-model
  tail -20 "$OUT/gxx.log" || true
fi
[ -n "$BIN" ] || { echo "no lip-model binary"; exit 1; }

echo "== bf16 parity"
PYTHONUNBUFFERED=1 python3 tests/data/models/bf16_parity.py "$BIN" /tmp/parity > "$OUT/parity.json" 2> "$OUT/parity.log" ||
  echo "bf16 parity failed (see parity.log); the benchmark still runs"
tail -5 "$OUT/parity.log"; cat "$OUT/parity.json"

echo "== benchmark (Llama-3.1-8B config, random bf16 weights)"
CONFIG=${LIP_BENCH_CONFIG:-$DEBS/../llama31_8b_config.json}
for b in 1 8; do
  "$BIN" bench --config "$CONFIG" --device cuda --dtype bf16 --batch $b --prompt-len 512 --new-tokens 128 --iters 3 \
    | tee -a "$OUT/bench.jsonl"
done
