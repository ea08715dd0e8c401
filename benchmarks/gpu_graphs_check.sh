#!/usr/bin/env bash
# On a GPU machine, in about two minutes: builds lip-model alone against the machine's CUDA LibTorch
# (no gRPC, no tests) and compares the fast runtime with and without CUDA graphs
# (LoadOptions::cuda_graphs) at the real shapes: `lip-model bench` (prefill_nocache_ms_median is the
# cache-free forward the graphs serve) and `lip-model paths` (the model compute of the latent path
# per stage, and of text relay / direct text). The short form of benchmarks/gpu_real_scale.sh for a
# nearly spent device budget.
#   bash benchmarks/gpu_graphs_check.sh DEPS_DIR MODELS_DIR OUT_DIR     (DEPS_DIR: deploy/gpu/pack_deps.sh;
#                                                                     MODELS_DIR: benchmarks/real_shapes/pack.sh)
# `set -u` without -e and pipefail, on purpose: a failed configure or build exits explicitly; a failed
# bench or paths run is logged (`|| log ...`) and the other measurements still run.
set -u
DEPS=$(cd "${1:?deps dir}" && pwd); MODELS=$(cd "${2:?models dir}" && pwd); OUT=${3:?out dir}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
BUILD=${BUILD:-/tmp/lip-model-build}; ROOT=$(pwd)
log() { echo "$(date +%T) $*" | tee -a "$OUT/progress.log"; }
log "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
source "$ROOT/deploy/gpu/unpack_deps.sh" "$DEPS" > "$OUT/unpack.log" 2>&1
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIP_CUDA=ON -DLIP_WITH_GRPC=OFF \
  -DLIP_BUILD_TESTS=OFF -DLIP_BUILD_BENCHMARKS=OFF -DICU_ROOT="$PREFIX/icu" \
  -DProtobuf_INCLUDE_DIR=/usr/include -DProtobuf_PROTOC_EXECUTABLE=/usr/bin/protoc \
  -DProtobuf_LIBRARY=/usr/lib/x86_64-linux-gnu/libprotobuf.so \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;$PREFIX/usr;$PREFIX/usr/share/cmake" \
  -DCMAKE_CXX_FLAGS="-isystem $PREFIX/usr/include" -DCMAKE_EXE_LINKER_FLAGS="-L$LIBDIR" > "$OUT/cmake.log" 2>&1 ||
  { log "cmake failed"; tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C "$BUILD" -j"${JOBS:-16}" -k 0 lip-model > "$OUT/ninja.log" 2>&1 ||
  { log "build failed"; grep -E "error" "$OUT/ninja.log" | head -30; exit 1; }
log "built lip-model"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
LLAMA=$MODELS/llama31-8b/config.json MISTRAL=$MODELS/mistral-7b/config.json
common=(--device cuda --dtype bf16 --activations model)
for runtime in fast graphs; do
  for spec in "$LLAMA 1 64" "$MISTRAL 1 24" "$MISTRAL 16 24"; do
    set -- $spec
    "$BUILD/bridge/lip-model" bench --config "$1" "${common[@]}" --runtime $runtime --batch "$2" --prompt-len "$3" \
      --new-tokens 8 --iters 5 >> "$OUT/model_bench.jsonl" 2>> "$OUT/errors.log" || log "bench failed: $runtime $spec"
  done
  "$BUILD/bridge/lip-model" paths --sender-config "$LLAMA" --receiver-config "$MISTRAL" "${common[@]}" \
    --runtime $runtime --batch 1 --message-tokens 64 --source-layer 16 --soft-tokens 8 --frame-tokens 16 \
    --relay-tokens 32 --iters 5 >> "$OUT/model_paths.jsonl" 2>> "$OUT/errors.log" || log "paths failed: $runtime"
  log "$runtime done"
done
python3 - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
for line in open(f"{out}/model_bench.jsonl"):
    j = json.loads(line)
    print(j["runtime"], j["config"].split("/")[-2], "B=%d T=%d prefill(cache) %.2f  no-cache %.2f ms  decode %.2f ms/step  %d MiB"
          % (j["batch"], j["prompt_len"], j["prefill_ms_median"], j["prefill_nocache_ms_median"],
             j["decode_ms_per_step_median"], j.get("gpu_memory_used_mib", -1)))
for line in open(f"{out}/model_paths.jsonl"):
    j = json.loads(line)
    print(j["runtime"], {k: round(v, 2) for k, v in j["median"].items()})
PYEOF
