#!/usr/bin/env bash
# On a GPU machine, in about five minutes and without gRPC: the model runtime of this tree against a
# baseline's at the real shapes, and this tree's parity with transformers on the demo pair.
#   bash benchmarks/gpu_runtime_ab.sh DEPS_DIR SHAPES_DIR TEXTS.jsonl OUT_DIR [BASELINE_DIR]
# DEPS_DIR: the .debs deploy/gpu/build_bridge_tools.sh needs (Abseil, nlohmann-json, ISA-L, googletest)
# and icu-headers.tar.xz (a subset of deploy/gpu/pack_deps.sh's); SHAPES_DIR: llama31-8b/config.json and
# mistral-7b/config.json (benchmarks/real_shapes/pack.sh; the configs suffice, no tokenizer runs);
# TEXTS.jsonl: `tests/data/models/bf16_parity_demo.py texts`; BASELINE_DIR: files laid over a copy of
# this tree to make the baseline (e.g. `git archive COMMIT bridge/model bridge/torch_compat.h | tar -x -C
# DIR`); without it only this tree is measured. demo/models/ must be in the tree.
# Writes OUT_DIR/model_bench.jsonl and model_paths.jsonl (rows with "tree": "this" | "baseline"; fast and
# graphs runtimes, bf16 weights and activations, median of --iters), parity_demo.json
# (tests/data/models/bf16_parity_demo.py: top-1 of lip-model bf16 on CUDA vs transformers), and
# demo_models_test.log (the CPU runtime of this LibTorch against the demo goldens).
# `set -u` without -e and pipefail, on purpose: a failed build exits explicitly; a failed measurement is
# logged and the others still run.
set -u
DEPS=$(cd "${1:?deps dir}" && pwd); SHAPES=$(cd "${2:?shapes dir}" && pwd); TEXTS=$(cd "$(dirname "${3:?texts}")" && pwd)/$(basename "$3")
OUT=${4:?out dir}; BASELINE=${5:-}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); ROOT=$(pwd)
log() { echo "$(date +%T) $*" | tee -a "$OUT/progress.log"; }
log "gpu: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

# This tree: lip-model and demo_models_test (run below, after the GPU measurements).
LIP_GPU_TEST=0 LIP_GPU_TOOLS="" bash deploy/gpu/build_bridge_tools.sh "$DEPS" /tmp/lip-this > "$OUT/build_this.log" 2>&1 ||
  { log "build of this tree failed"; tail -30 "$OUT/build_this.log"; exit 1; }
log "built this tree"
trees=(this)
if [ -n "$BASELINE" ]; then
  BASE_SRC=/tmp/lip-baseline-src
  rm -rf "$BASE_SRC" && mkdir -p "$BASE_SRC"
  tar -C "$ROOT" --exclude=./demo/models --exclude=./.device -cf - . | tar -C "$BASE_SRC" -xf -
  cp -r "$(cd "$BASELINE" && pwd)"/. "$BASE_SRC"/
  (cd "$BASE_SRC" && LIP_GPU_TEST=0 LIP_GPU_TOOLS="" bash deploy/gpu/build_bridge_tools.sh "$DEPS" /tmp/lip-baseline) \
    > "$OUT/build_baseline.log" 2>&1 && trees+=(baseline) || log "build of the baseline failed (measuring this tree only)"
fi

export LD_LIBRARY_PATH=/tmp/lip-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}  # deploy/gpu/unpack_deps.sh's prefix
LLAMA=$SHAPES/llama31-8b/config.json MISTRAL=$SHAPES/mistral-7b/config.json
common=(--device cuda --dtype bf16 --activations model)
for tree in "${trees[@]}"; do
  BIN=/tmp/lip-$tree/bridge/lip-model
  for runtime in fast graphs; do
    for spec in "$LLAMA 1 64" "$MISTRAL 1 24" "$MISTRAL 16 24"; do
      set -- $spec
      "$BIN" bench --config "$1" "${common[@]}" --runtime $runtime --batch "$2" --prompt-len "$3" --new-tokens 8 \
        --iters 5 2>> "$OUT/errors.log" | python3 -c "import json,sys; [print(json.dumps(dict(json.loads(l), tree='$tree'))) for l in sys.stdin if l.strip()]" \
        >> "$OUT/model_bench.jsonl" || log "bench failed: $tree $runtime $spec"
    done
    "$BIN" paths --sender-config "$LLAMA" --receiver-config "$MISTRAL" "${common[@]}" --runtime $runtime --batch 1 \
      --message-tokens 64 --source-layer 16 --soft-tokens 8 --frame-tokens 16 --relay-tokens 32 --iters 5 \
      2>> "$OUT/errors.log" | python3 -c "import json,sys; [print(json.dumps(dict(json.loads(l), tree='$tree'))) for l in sys.stdin if l.strip()]" \
      >> "$OUT/model_paths.jsonl" || log "paths failed: $tree $runtime"
    log "$tree $runtime done"
  done
done

PYTHONUNBUFFERED=1 python3 tests/data/models/bf16_parity_demo.py measure /tmp/lip-this/bridge/lip-model "$TEXTS" \
  /tmp/parity-demo > "$OUT/parity_demo.json" 2> "$OUT/parity_demo.log" || log "parity run failed"
log "parity done"
/tmp/lip-this/tests/model/demo_models_test > "$OUT/demo_models_test.log" 2>&1 || log "demo_models_test FAILED"
grep -E "PASSED|FAILED" "$OUT/demo_models_test.log" | tee -a "$OUT/progress.log"

python3 - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
for line in open(f"{out}/model_bench.jsonl"):
    j = json.loads(line)
    print(j["tree"], j["runtime"], j["config"].split("/")[-2], "B=%d T=%d no-cache prefill %.2f ms  decode %.2f ms/step"
          % (j["batch"], j["prompt_len"], j["prefill_nocache_ms_median"], j["decode_ms_per_step_median"]))
for line in open(f"{out}/model_paths.jsonl"):
    j = json.loads(line)
    print(j["tree"], j["runtime"], {k: round(v, 2) for k, v in j["median"].items()})
try:
    p = json.load(open(f"{out}/parity_demo.json"))
    for name, m in p["models"].items():
        print("parity", name, m["all"] if isinstance(m, dict) else m)
except Exception as e:  # the parity log says why
    print("parity: no result", e)
PYEOF
