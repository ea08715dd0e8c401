#!/usr/bin/env bash
# On a GPU machine: the model-runtime half of the real-scale benchmark (issue 16), within a small
# carry. Builds lip-model alone (bridge/model + common/wire/sha256, no tokenizer, no gRPC) with g++ against
# the machine's CUDA LibTorch and the carried Abseil/nlohmann-json subset (deploy/gpu/pack_runtime_deps.sh),
# then:
#   1. greedy_check: 32 greedy tokens with the KV cache vs the transformers goldens of the demo pair
#      (fp32, bf16, bf16 with bf16 activations), fast runtime and eager reference;
#   2. bf16 top-1 parity vs transformers on held-out texts (tests/data/models/bf16_parity_demo.py),
#      when PACK_DIR/heldout_texts.jsonl.xz is there;
#   3. lip-model bench, eager reference vs fast runtime, at the Llama-3.1-8B and Mistral-7B shapes
#      (random bf16 weights, bf16 activations): prefill and decode at batch 1 and 16;
#   4. lip-model paths: the model compute of the latent, text-relay (32 tokens) and direct-text paths.
# Everything lands in OUT_DIR (JSON lines + logs).
#   bash deploy/gpu/pack_runtime_deps.sh     # here: PACK_DIR = .device/lip-gpu
#   bash benchmarks/gpu_runtime_bench.sh .device/lip-gpu OUT_DIR     # there
# `set -u` without -e and pipefail, on purpose: a failed build exits explicitly; a failed stage (greedy
# check, parity, bench, paths) is logged (`|| log ...`, `rc $?`) and the other stages still run.
set -u
PACK=$(cd "${1:?pack dir}" && pwd); OUT=${2:?out dir}; mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
log() { echo "$(date +%T) $*" | tee -a "$OUT/progress.log"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
PREFIX=/tmp/lip-absl; rm -rf $PREFIX; mkdir -p $PREFIX && tar xJf "$PACK/runtime-deps.tar.xz" -C $PREFIX
TORCH_DIR=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')
CRYPTO=$(ls /usr/lib/x86_64-linux-gnu/libcrypto.so /usr/lib/x86_64-linux-gnu/libcrypto.so.3 2>/dev/null | head -1)
OBJ=/tmp/lip-obj; rm -rf $OBJ; mkdir -p $OBJ
CXX="g++ -O2 -std=c++17 -DNDEBUG -DLIP_MODEL_NO_TOKENIZER -DLIP_CUDA=1 -I. -isystem $PREFIX/include \
  -isystem $TORCH_DIR/include -isystem $TORCH_DIR/include/torch/csrc/api/include -D_GLIBCXX_USE_CXX11_ABI=1"
log "build starts"
ls bridge/model/*.cc common/wire/sha256.cc bridge/tools/model_main.cc |
  xargs -P 16 -I{} sh -c "$CXX -c {} -o $OBJ/\$(echo {} | tr / _).o 2>> $OUT/build.log || echo FAILED {} >> $OUT/build.log"
# LINK_EXTRA: e.g. -Wl,--unresolved-symbols=ignore-all with a partial Abseil object (error paths only).
$CXX -no-pie $OBJ/*.o $PREFIX/lib/*.o -o /tmp/lip-model -L$TORCH_DIR/lib -Wl,-rpath,$TORCH_DIR/lib \
  -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10 -lc10_cuda -Wl,--as-needed $CRYPTO -lpthread \
  ${LINK_EXTRA:-} >> $OUT/build.log 2>&1
[ -x /tmp/lip-model ] || { log "BUILD FAILED"; grep -E "error|FAILED" $OUT/build.log | head -30; exit 1; }
log "built"
BIN=/tmp/lip-model

for rt in fast eager; do
  timeout 240 python3 tests/data/models/greedy_check_gpu.py $BIN --device cuda --runtime $rt >> $OUT/greedy_check.jsonl 2>> $OUT/greedy_check.err
done
log "greedy check done"; cat $OUT/greedy_check.jsonl

LLAMA=$PACK/llama31_8b_config.json; MISTRAL=$PACK/mistral_7b_config.json
for spec in "$LLAMA 1 64 64" "$MISTRAL 1 24 32" "$LLAMA 16 64 64" "$MISTRAL 16 24 32"; do
  for rt in eager fast; do
    set -- $spec
    timeout 120 $BIN bench --config "$1" --device cuda --dtype bf16 --activations model --runtime $rt \
      --batch "$2" --prompt-len "$3" --new-tokens "$4" --iters 5 >> $OUT/model_bench.jsonl 2>> $OUT/model_bench.err ||
      log "bench failed: $rt $spec"
  done
done
log "model bench done"
for spec in "fast 1" "eager 1" "fast 16"; do
  set -- $spec
  timeout 150 $BIN paths --sender-config $LLAMA --receiver-config $MISTRAL --device cuda --dtype bf16 \
    --activations model --runtime $1 --batch $2 --iters 10 >> $OUT/paths.jsonl 2>> $OUT/paths.err || log "paths failed: $spec"
done
log "paths done"
if [ -f "$PACK/heldout_texts.jsonl.xz" ]; then
  xz -dc "$PACK/heldout_texts.jsonl.xz" > /tmp/heldout_texts.jsonl
  PYTHONUNBUFFERED=1 timeout 200 python3 tests/data/models/bf16_parity_demo.py measure $BIN /tmp/heldout_texts.jsonl \
    /tmp/parity-demo > $OUT/parity_demo.json 2> $OUT/parity_demo.log; log "bf16 parity rc $?"
fi
log "all done"
touch "$OUT/DONE"
