#!/usr/bin/env bash
# On the GPU machine: builds lip-model (bridge/model + its CLI only, against the machine's CUDA
# LibTorch, one g++ per translation unit in parallel) and runs bf16_parity_demo.py on the demo pair.
#   bash tests/data/models/bf16_parity_demo_gpu.sh DEB_DIR TEXTS.jsonl OUT_DIR
# DEB_DIR: Debian 12 .debs of what the GPU image lacks for this build (libabsl-dev, libabsl20220623,
# nlohmann-json3-dev; `apt-get download ...`), unpacked into /tmp/lip-deps, never into /.
# demo/models/ must be present (carried) with the model(s) to measure. See benchmarks/README.md.
# `set -uo pipefail` without -e, on purpose: the parallel compiles are waited for one by one and a
# failure is reported once all finished, with their log; the parity run's exit status is the script's,
# after its log and results are printed.
set -uo pipefail
DEBS=${1:?deb dir}
TEXTS=${2:?texts jsonl}
OUT=${3:?out dir}
ROOT=$(pwd)
PREFIX=/tmp/lip-deps
OBJ=/tmp/lip-model-obj
mkdir -p "$PREFIX" "$OUT" "$OBJ"
for f in "$DEBS"/*.deb; do dpkg -x "$f" "$PREFIX"; done
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$LIBDIR:${LD_LIBRARY_PATH:-}
TORCH_DIR=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

FLAGS=(-O1 -std=c++17 -DLIP_MODEL_NO_TOKENIZER -DLIP_CUDA=1 -I"$ROOT" -isystem "$PREFIX/usr/include"
       -isystem "$TORCH_DIR/include" -isystem "$TORCH_DIR/include/torch/csrc/api/include")
start=$(date +%s)
pids=()
for src in "$ROOT"/bridge/model/*.cc "$ROOT"/common/wire/sha256.cc "$ROOT"/bridge/tools/model_main.cc; do
  obj=$OBJ/$(basename "${src%.cc}").o
  g++ "${FLAGS[@]}" -c "$src" -o "$obj" > "$obj.log" 2>&1 &
  pids+=($!)
done
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
cat "$OBJ"/*.log > "$OUT/build.log"
[ $ok = 1 ] || { echo "compile failed"; tail -40 "$OUT/build.log"; exit 1; }
g++ "$OBJ"/*.o -o /tmp/lip-model -L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib" -Wl,--no-as-needed \
  -ltorch -ltorch_cuda -ltorch_cpu -lc10 -lc10_cuda -Wl,--as-needed \
  -Wl,--start-group "$LIBDIR"/libabsl_*.so -Wl,--end-group -lcrypto -lpthread >> "$OUT/build.log" 2>&1 ||
  { echo "link failed"; tail -40 "$OUT/build.log"; exit 1; }
echo "built lip-model in $(( $(date +%s) - start )) s"

PYTHONUNBUFFERED=1 python3 tests/data/models/bf16_parity_demo.py measure /tmp/lip-model "$TEXTS" /tmp/parity-demo \
  > "$OUT/parity_demo.json" 2> "$OUT/parity_demo.log"
rc=$?
tail -20 "$OUT/parity_demo.log"
cat "$OUT/parity_demo.json"
exit $rc
