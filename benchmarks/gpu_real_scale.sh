#!/usr/bin/env bash
# On a GPU machine: the real-scale benchmark of issue 16, end to end. Builds the nodes
# (deploy/gpu/build_nodes.sh), checks the CUDA runtime against the demo goldens (demo_models_test),
# times the model runtime (lip-model bench, eager reference path vs the fast path, random bf16 weights
# at the Llama-3.1-8B and Mistral-7B shapes), then starts a receiver (Mistral-7B shape) and a sender
# (Llama-3.1-8B shape) on the GPU in benchmark mode (--random_weights_for_benchmark: random weights,
# random bridge of benchmarks/real_shapes/bridge.json, the real tokenizers) with mutual TLS on
# 127.0.0.1 and runs `lipctl bench run` over the three paths (latent, text relay with 32 generated tokens,
# direct text) at concurrency 1 and in a sweep. Results (JSON) and logs go to OUT_DIR.
#   bash benchmarks/real_shapes/pack.sh && bash deploy/gpu/pack_deps.sh        # here, once
#   bash benchmarks/gpu_real_scale.sh .device/gpu-deps .device/real-shapes OUT_DIR   # there
# Environment: BUILD (default /tmp/lip-nodes-build), SKIP_BUILD=1 to reuse it, E2E_SECONDS (per level,
# default 15), MAX_BATCH (both nodes' --max_batch_size, default 64), RECEIVER_FLAGS (more lip-receiver
# flags), RUNTIMES (lip-model runtimes, default "eager fast graphs"), LATENT_C / RELAY_C (the
# closed-loop levels of the latent + direct text and the text relay sweeps; RELAY_C=none skips the
# relay), LATENT_PATHS (default
# latent,direct_text), BENCH_SPECS (model:batch:prompt:new_tokens ...), BATCH_WAIT_MS (0), FUSED_AB (default
# 1: the graphs runtime's bench also without the fused CUDA kernels, --fused-kernels off, and with
# FEW_ROW=1 bench and paths with cuBLAS for the projections, --few-row-matmul off), RECEIVER_DEVICE /
# SENDER_DEVICE (default cuda:0 both; cuda:0 and cuda:1 on a two-GPU machine: the split deployment),
# BLOCK_PROFILE (default 1), PIPELINES (default 1: `lip-model pipelines`, the nodes' pipelines beside the
# models alone), GEMM_TUNING_AB (default 0), E2E_VARIANTS (default "default"; "none" skips it; "default
# tunableop": the end-to-end run twice, the second with TunableOp in both nodes at TUNED_LATENT_C /
# TUNED_RELAY_C, default 1 / 1; "maxbatch:N": the latent sweep again with both nodes' batches capped at N,
# into OUT_DIR/maxbatch-N; "mps": the latent sweep again with both nodes as clients of one CUDA MPS server,
# into OUT_DIR/mps; "nofewrow": the latent sweep again with both nodes' projections on cuBLAS
# (--few_row_matmul=false), into OUT_DIR/nofewrow; these three sweep VARIANT_LATENT_C, default
# LATENT_C), PROJECTIONS (default 0; 1: `lip-model projections` at both shapes), SENDER_HALF_PROFILE
# (default 1: `lip-model sender-half`, and its kernels under ncu where present), FEW_ROW (default 0:
# cuBLAS for the projections, as the nodes ship; 1: the few-row kernel in every run but the A/Bs),
# TUNED_WARMUP_MAX_BATCH (1),
# E2E_FLAGS (more flags for both nodes of every variant but "tunableop").
# `set -u` without -e and pipefail, on purpose: every stage (build, demo_models_test, each lip-model bench,
# each node run) logs its exit status to progress.log, and a failed stage still leaves the others' results.
set -u
DEPS=$(cd "${1:?deps dir}" && pwd); MODELS=$(cd "${2:?models dir}" && pwd); OUT=${3:?out dir}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
BUILD=${BUILD:-/tmp/lip-nodes-build}; SECS=${E2E_SECONDS:-15}
log() { echo "$(date +%T) $*" | tee -a "$OUT/progress.log"; }
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
log "gpu: $GPU"
# While the build runs (CPU), the GPU profiles one decoder block at the real shapes in PyTorch
# (benchmarks/real_shapes/block_profile.py: per-op device time, GEMM bandwidth, GEMM back-ends);
# BLOCK_PROFILE=0 skips it. It is waited for before anything else uses the GPU.
profile_pid=
if [ "${BLOCK_PROFILE:-1}" = 1 ]; then
  python3 benchmarks/real_shapes/block_profile.py --models "$MODELS" --out "$OUT/block_profile.jsonl" \
    --tuning-file "$OUT/tunableop_block.csv" > "$OUT/block_profile.log" 2>&1 &
  profile_pid=$!
fi
rebuild_without_fused_kernels() {  # LOG: the fused kernels failed to build or their test
  EXTRA_CMAKE_ARGS=-DLIP_FUSED_CUDA_KERNELS=OFF bash deploy/gpu/build_nodes.sh "$DEPS" "$BUILD" > "$OUT/$1" 2>&1
  rc=$?; log "build (no fused kernels) rc $rc"
}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "build starts"
  bash deploy/gpu/build_nodes.sh "$DEPS" "$BUILD" > "$OUT/build.log" 2>&1; rc=$?; log "build rc $rc"
  cp "$BUILD.ninja.log" "$BUILD.cmake.log" "$OUT/" 2>/dev/null
  if [ $rc != 0 ]; then  # the fused kernels (nvcc) or the CUDA-graph code (a LibTorch API change)
    log "build failed: $(grep -m3 -E 'error' "$OUT/build.log" | tr '\n' ' ' | cut -c1-600)"
    log "rebuilding without the fused CUDA kernels (-DLIP_FUSED_CUDA_KERNELS=OFF)"
    rebuild_without_fused_kernels build_nofused.log
  fi
  if [ $rc != 0 ]; then
    log "rebuilding without the fused kernels and the CUDA-graph forward (-DLIP_CUDA_GRAPHS=OFF)"
    EXTRA_CMAKE_ARGS="-DLIP_FUSED_CUDA_KERNELS=OFF -DLIP_CUDA_GRAPHS=OFF" bash deploy/gpu/build_nodes.sh "$DEPS" "$BUILD" > "$OUT/build_nographs.log" 2>&1
    log "build (no graphs) rc $?"
  fi
fi
if [ -n "$profile_pid" ]; then wait $profile_pid; log "block profile rc $?: $(wc -l < "$OUT/block_profile.jsonl" 2>/dev/null) rows"; fi
export LD_LIBRARY_PATH=/tmp/lip-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
grep -h "decoder block:" "$BUILD.cmake.log" 2>/dev/null | head -1 | sed 's/^-- //' | while read -r l; do log "$l"; done

# 0. The fused kernels against LibTorch's ops on this GPU; wrong values rebuild without them, so the
#    rest of the run measures a correct runtime.
if [ -x "$BUILD/tests/model/decoder_ops_test" ]; then
  "$BUILD/tests/model/decoder_ops_test" > "$OUT/decoder_ops_test.log" 2>&1; rc=$?
  log "decoder_ops_test rc $rc: $(grep -cE '^\[       OK' "$OUT/decoder_ops_test.log") ok, $(grep -cE '^\[  SKIPPED \] Dec' "$OUT/decoder_ops_test.log") skipped"
  if [ $rc != 0 ] && ! grep -E '^\[  FAILED  \] DecoderOpsTest\.' "$OUT/decoder_ops_test.log" | grep -qv FewRow; then
    # Only the few-row projection kernel's own test failed: keep the other kernels, run without it.
    log "the few-row projection kernel failed its test: every run below uses cuBLAS for the projections"
    NO_FEW_ROW=1
  elif [ $rc != 0 ]; then
    log "the fused kernels failed their test: rebuilding without them"
    rebuild_without_fused_kernels build_nofused.log
  fi
fi
# The few-row projection kernel: off, as the nodes ship (run 8 measured it slower than cuBLAS); FEW_ROW=1
# turns it on for every run below (unless its test failed) and A/Bs bench and paths without it.
few_row_tool=(--few-row-matmul off); few_row_node=(--few_row_matmul=false); USE_FEW_ROW=0
if [ "${FEW_ROW:-0}" = 1 ] && [ "${NO_FEW_ROW:-0}" != 1 ]; then
  USE_FEW_ROW=1; few_row_tool=(--few-row-matmul on); few_row_node=(--few_row_matmul=true)
fi

# 1. The CUDA runtime against the transformers goldens of the demo pair (needs demo/models, which a
#    device call may leave behind for room: then it is skipped and says so).
if [ -d demo/models/sender-llama ]; then
  "$BUILD/tests/model/demo_models_test" > "$OUT/demo_models_test.log" 2>&1; log "demo_models_test rc $?"
else
  log "demo_models_test skipped: demo/models is not in this tree"
fi

# 2. Model runtime: eager reference vs fast path vs fast + CUDA graphs (what the nodes run), bf16
#    weights and activations; then the model compute of the three paths per stage (`lip-model paths`).
#    GEMM_TUNING_AB=1 (off by default: run 6 measured no gain): the graphs runtime also with
#    LibTorch's TunableOp, which times every cuBLAS/cuBLASLt algorithm per GEMM shape on first use
#    and keeps the fastest (rows tagged
#    "gemm_tuning": "tunableop"; its choices in OUT_DIR/tunableop_bench.csv).
LLAMA=$MODELS/llama31-8b/config.json MISTRAL=$MODELS/mistral-7b/config.json
# The block's four projections at both shapes, cuBLAS against the few-row kernel at each split of K
# (GB/s of weight streamed; both against an fp32 reference). PROJECTIONS=1 runs it (run 8 did).
if [ "${PROJECTIONS:-0}" = 1 ] && [ "${NO_FEW_ROW:-0}" != 1 ]; then
  for config in "$LLAMA" "$MISTRAL"; do
    "$BUILD/bridge/lip-model" projections --config "$config" --device cuda --dtype bf16 --rows 1,8,24,64 --iters 20 \
      >> "$OUT/projections.jsonl" 2>> "$OUT/model_bench.err" || log "projections failed: $config"
  done
  log "projections: $(wc -l < "$OUT/projections.jsonl" 2>/dev/null) rows"
fi
tuned() { env PYTORCH_TUNABLEOP_ENABLED=1 PYTORCH_TUNABLEOP_TUNING=1 PYTORCH_TUNABLEOP_FILENAME="$OUT/tunableop_bench.csv" "$@"; }
tag_tuned() { python3 -c 'import json,sys
for l in sys.stdin:
  if l.strip(): print(json.dumps(dict(json.loads(l), gemm_tuning="tunableop")))'; }
: > "$OUT/model_bench.jsonl"; : > "$OUT/model_paths.jsonl"; : > "$OUT/model_pipelines.jsonl"
for runtime in ${RUNTIMES:-eager fast graphs}; do
  for spec in ${BENCH_SPECS:-llama31-8b:1:64:32 llama31-8b:16:64:32 mistral-7b:1:24:32 mistral-7b:16:24:32}; do
    IFS=: read -r name b t n <<< "$spec"; set -- "$MODELS/$name/config.json" "$b" "$t" "$n"
    "$BUILD/bridge/lip-model" bench --config "$1" --device cuda --dtype bf16 --activations model \
      --runtime $runtime ${few_row_tool[@]+"${few_row_tool[@]}"} --batch "$2" --prompt-len "$3" --new-tokens "$4" \
      --iters 5 >> "$OUT/model_bench.jsonl" 2>> "$OUT/model_bench.err" || log "bench failed: $runtime $spec"
    if [ "$runtime" = graphs ] && [ "${FUSED_AB:-1}" = 1 ] && [ "$USE_FEW_ROW" = 1 ]; then  # A/B: cuBLAS projections
      "$BUILD/bridge/lip-model" bench --config "$1" --device cuda --dtype bf16 --activations model \
        --runtime $runtime --few-row-matmul off --batch "$2" --prompt-len "$3" --new-tokens "$4" --iters 5 \
        >> "$OUT/model_bench.jsonl" 2>> "$OUT/model_bench.err" || log "bench failed: $runtime (no few-row) $spec"
    fi
    if [ "$runtime" = graphs ] && [ "${FUSED_AB:-1}" = 1 ]; then  # A/B: the same without the fused kernels
      "$BUILD/bridge/lip-model" bench --config "$1" --device cuda --dtype bf16 --activations model \
        --runtime $runtime --fused-kernels off --batch "$2" --prompt-len "$3" --new-tokens "$4" --iters 5 \
        >> "$OUT/model_bench.jsonl" 2>> "$OUT/model_bench.err" || log "bench failed: $runtime (no fused) $spec"
    fi
    if [ "$runtime" = graphs ] && [ "${GEMM_TUNING_AB:-0}" = 1 ]; then  # A/B: GEMMs tuned by TunableOp
      tuned "$BUILD/bridge/lip-model" bench --config "$1" --device cuda --dtype bf16 --activations model \
        --runtime $runtime --batch "$2" --prompt-len "$3" --new-tokens "$4" --iters 5 \
        2>> "$OUT/model_bench.err" | tag_tuned >> "$OUT/model_bench.jsonl" || log "bench failed: $runtime (tuned) $spec"
    fi
  done
  paths=("$BUILD/bridge/lip-model" paths --sender-config "$LLAMA" --receiver-config "$MISTRAL" --device cuda
    --dtype bf16 --activations model --runtime $runtime ${few_row_tool[@]+"${few_row_tool[@]}"} --batch 1 --message-tokens 64 --source-layer 16
    --soft-tokens 8 --frame-tokens 16 --relay-tokens 32 --iters 8)
  "${paths[@]}" >> "$OUT/model_paths.jsonl" 2>> "$OUT/model_bench.err" || log "paths failed: $runtime"
  if [ "$runtime" = graphs ] && [ "${FUSED_AB:-1}" = 1 ] && [ "$USE_FEW_ROW" = 1 ]; then
    "${paths[@]}" --few-row-matmul off >> "$OUT/model_paths.jsonl" 2>> "$OUT/model_bench.err" || log "paths failed: $runtime (no few-row)"
  fi
  # The same latent path through the nodes' pipelines (tokenizer, bridge halves, their graphs) beside
  # the models alone on the same token counts: what the pipelines add to the model compute.
  if [ "$runtime" = graphs ] && [ "${PIPELINES:-1}" = 1 ]; then
    "$BUILD/bridge/lip-model" pipelines --sender-model "$MODELS/llama31-8b" --receiver-model "$MODELS/mistral-7b" \
      --bridge-dir benchmarks/real_shapes --input benchmarks/real_shapes/messages.jsonl --device cuda \
      --dtype bf16 --activations model --runtime $runtime ${few_row_tool[@]+"${few_row_tool[@]}"} --iters 64 \
      >> "$OUT/model_pipelines.jsonl" 2>> "$OUT/model_bench.err" || log "pipelines failed: $runtime"
  fi
  if [ "$runtime" = graphs ] && [ "${GEMM_TUNING_AB:-0}" = 1 ]; then
    tuned "${paths[@]}" 2>> "$OUT/model_bench.err" | tag_tuned >> "$OUT/model_paths.jsonl" || log "paths failed: $runtime (tuned)"
  fi
done
# 2b. The sender's bridge half alone (run 8: 1.08 ms in its graph, where ~95 small kernels should take a
#     few hundred µs): timed as a graph and op by op, and each kernel's device time under Nsight Compute
#     where the machine has it (SENDER_HALF_PROFILE=0 skips).
if [ "${SENDER_HALF_PROFILE:-1}" = 1 ]; then
  for g in on off; do
    "$BUILD/bridge/lip-model" sender-half --bridge-dir benchmarks/real_shapes --device cuda --graph $g --iters 50 \
      >> "$OUT/sender_half.jsonl" 2>> "$OUT/model_bench.err" || log "sender-half failed (graph $g)"
  done
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
  if [ -n "$NCU" ]; then
    timeout 240 "$NCU" --csv --print-units base --metrics gpu__time_duration.sum --launch-count 300 "$BUILD/bridge/lip-model" sender-half \
      --bridge-dir benchmarks/real_shapes --device cuda --graph off --iters 2 > "$OUT/sender_half_kernels.csv" 2> "$OUT/sender_half_ncu.err"
    log "sender-half under ncu rc $?: $(grep -c gpu__time_duration "$OUT/sender_half_kernels.csv") kernel rows"
  else
    log "no ncu on this machine: the sender half's kernels are not profiled"
  fi
fi
log "model bench done: $(wc -l < "$OUT/model_bench.jsonl") rows, paths $(wc -l < "$OUT/model_paths.jsonl") rows, pipelines $(wc -l < "$OUT/model_pipelines.jsonl") rows"

# 3. End to end through the nodes, once per E2E_VARIANTS entry (default "default"): "default" writes
#    into OUT_DIR, "tunableop" into OUT_DIR/tunableop with both nodes running LibTorch's TunableOp
#    (every GEMM shape's cuBLAS/cuBLASLt algorithms timed in the nodes' eager warm-up runs, the fastest
#    kept; TUNED_WARMUP_MAX_BATCH bounds the warm-up's batches, default 1, since tuning makes it longer).
W=/tmp/lip-e2e; rm -rf $W; mkdir -p $W
bash deploy/certs/make_certs.sh $W/certs sender receiver > /dev/null
tls() { echo "--tls_cert=$W/certs/$1.crt --tls_key=$W/certs/$1.key --tls_ca=$W/certs/ca.crt"; }
start() {  # NAME BINARY ARGS...: waits for the listening line, sets PORT_<NAME>
  local name=$1 binary=$2; shift 2
  local tuning=()  # TUNING_DIR set: LibTorch's TunableOp in this node, its results in TUNING_DIR
  [ -n "${TUNING_DIR:-}" ] && tuning=(env PYTORCH_TUNABLEOP_ENABLED=1 PYTORCH_TUNABLEOP_TUNING=1
                                      "PYTORCH_TUNABLEOP_FILENAME=$TUNING_DIR/tunableop_$name.csv")
  setsid ${tuning[@]+"${tuning[@]}"} "$binary" "$@" > $W/$name.out 2> $W/$name.log &
  pids+=($!)
  for _ in $(seq 1 3000); do
    if grep -q '"event":"listening"' $W/$name.out 2>/dev/null; then
      printf -v "PORT_$name" '%s' "$(python3 -c 'import json,sys;print(json.loads(open(sys.argv[1]).readline())["port"])' $W/$name.out)"
      printf -v "METRICS_$name" '%s' "$(python3 -c 'import json,sys;print(json.loads(open(sys.argv[1]).readline()).get("metrics_port", 0))' $W/$name.out)"
      return 0
    fi
    kill -0 ${pids[-1]} 2>/dev/null || { log "$name exited: $(tail -3 $W/$name.log)"; return 1; }
    sleep 0.1
  done
  log "$name did not start"; return 1
}
shapes=$(python3 - "$MODELS" <<'PYEOF'
import json, sys
def model(d):
    c = json.load(open(f"{sys.argv[1]}/{d}/config.json"))
    return {k: c.get(k) for k in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                  "num_key_value_heads", "intermediate_size", "vocab_size")}
b = json.load(open("benchmarks/real_shapes/bridge.json"))
print(json.dumps({"sender": dict(model("llama31-8b"), name="Llama-3.1-8B-Instruct shape, random bf16 weights"),
                  "receiver": dict(model("mistral-7b"), name="Mistral-7B-v0.1 shape, random bf16 weights"),
                  "bridge": {"name": b["name"], "soft_tokens": b["sender"]["perceiver"]["num_queries"],
                             "d_z": b["sender"]["perceiver"]["output_width"], "source_layer": b["sender"]["source_layer"]},
                  "message_tokens": b["sender"]["max_text_tokens"], "weights": "random (benchmark only)",
                  "activations": "bf16"}))
PYEOF
)
run_e2e() {  # VARIANT DIR LATENT_LEVELS RELAY_LEVELS [extra node flags...]
  local variant=$1 dir=$2 latent_c=$3 relay_c=$4; shift 4
  mkdir -p "$dir"; pids=()
  # Both nodes batch (the sender its encodes and relay generations, the receiver its answers).
  # max_batch_wait_ms=0: a lone message is served at once; under load the queue still fills while a
  # batch runs, so batches form without a timed wait.
  # RECEIVER_DEVICE / SENDER_DEVICE: the split deployment on a two-GPU machine (e.g. cuda:0 and cuda:1).
  local common="--listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --activations=model --random_weights_for_benchmark --bridge_dir=benchmarks/real_shapes ${few_row_node[*]} $*"
  if start receiver "$BUILD/server/lip-receiver" $common --device=${RECEIVER_DEVICE:-cuda:0} --model_dir="$MODELS/mistral-7b" --data_dir=$W/r-$variant \
       --max_batch_size=${MAX_BATCH:-64} --max_batch_wait_ms=${BATCH_WAIT_MS:-0} --queue_limit=4096 $(tls receiver) ${RECEIVER_FLAGS:-} &&
     start sender "$BUILD/server/lip-sender" $common --device=${SENDER_DEVICE:-cuda:0} --model_dir="$MODELS/llama31-8b" --data_dir=$W/s-$variant \
       --max_batch_size=${MAX_BATCH:-64} --max_batch_wait_ms=${BATCH_WAIT_MS:-0} --queue_limit=4096 $(tls sender); then
    log "nodes up ($variant): receiver $PORT_receiver sender $PORT_sender"
    nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$dir/gpu_memory_idle.csv"
    echo "receiver_pid=${pids[0]} sender_pid=${pids[1]}" >> "$dir/gpu_memory_idle.csv"
    local L=("$BUILD/client/lipctl" bench run --sender=127.0.0.1:$PORT_sender --receiver=127.0.0.1:$PORT_receiver
       --to=127.0.0.1:$PORT_receiver
       --cert=$W/certs/sender.crt --key=$W/certs/sender.key --ca=$W/certs/ca.crt
       --messages=benchmarks/real_shapes/messages.jsonl --bridge-json=benchmarks/real_shapes/bridge.json
       "--device=$GPU" "--models=Llama-3.1-8B shape -> Mistral-7B shape (random bf16 weights, benchmark only)"
       "--model-shapes=$shapes" --generate-tokens=32 --warmup=4 --rate-fractions=0.5,0.9)
    # Latent and direct text over a wide sweep; text relay (32 generated tokens, ~1 s a message at c=1)
    # over fewer levels.
    "${L[@]}" --paths=${LATENT_PATHS:-latent,direct_text} --concurrency=$latent_c --duration-s=$SECS \
      --json="$dir/e2e_latent_direct.json" --csv="$dir/e2e_latent_direct.csv" > "$dir/e2e_latent_direct.log" 2>&1
    log "lipctl bench latent,direct_text ($variant) rc $?"
    # Both nodes' Prometheus metrics after the latent sweep (lip_stage_ms: the sender's device part, ...).
    for node in sender receiver; do
      local port_var=METRICS_$node
      python3 -c 'import sys,urllib.request;sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode())' \
        "${!port_var}" > "$dir/metrics_$node.txt" 2>/dev/null || log "no metrics from the $node"
    done
    nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$dir/gpu_memory_mid.csv"
    if [ "$relay_c" != none ]; then
      "${L[@]}" --paths=text_relay --concurrency=$relay_c --duration-s=$SECS \
        --json="$dir/e2e_text_relay.json" --csv="$dir/e2e_text_relay.csv" > "$dir/e2e_text_relay.log" 2>&1
      log "lipctl bench text_relay ($variant) rc $?"
    fi
    nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$dir/gpu_memory_after.csv"
  fi
  for p in "${pids[@]}"; do kill -TERM $p 2>/dev/null; done
  sleep 3; for p in "${pids[@]}"; do kill -KILL $p 2>/dev/null; done
  for f in $W/*.log; do cp "$f" "$dir/$(basename "$f")"; done
}
for variant in ${E2E_VARIANTS:-default}; do
  case $variant in
    default) TUNING_DIR= run_e2e default "$OUT" "${LATENT_C:-1,2,4,8,16,32,64,128}" "${RELAY_C:-1,4,16,64}" ${E2E_FLAGS:-} ;;
    tunableop) TUNING_DIR=$OUT/tunableop run_e2e tunableop "$OUT/tunableop" "${TUNED_LATENT_C:-1}" "${TUNED_RELAY_C:-1}" \
                 --graph_warmup_max_batch=${TUNED_WARMUP_MAX_BATCH:-1} ;;
    maxbatch:*) MAX_BATCH=${variant#maxbatch:} TUNING_DIR= run_e2e "$variant" "$OUT/maxbatch-${variant#maxbatch:}" \
                  "${VARIANT_LATENT_C:-${LATENT_C:-1,2,4,8,16,32,64,128}}" none ${E2E_FLAGS:-} ;;
    mps)  # Both nodes as clients of one CUDA MPS server (a private pipe directory: no other process on
          # the machine joins it), so their kernels may run side by side instead of in time slices.
          if command -v nvidia-cuda-mps-control > /dev/null; then
            export CUDA_MPS_PIPE_DIRECTORY=/tmp/lip-mps/pipe CUDA_MPS_LOG_DIRECTORY=/tmp/lip-mps/log
            mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
            nvidia-cuda-mps-control -d && log "MPS server started (private pipe directory)"
            TUNING_DIR= run_e2e mps "$OUT/mps" "${VARIANT_LATENT_C:-${LATENT_C:-1,2,4,8,16,32,64,128}}" none ${E2E_FLAGS:-}
            echo quit | nvidia-cuda-mps-control; sleep 1
            cp -r $CUDA_MPS_LOG_DIRECTORY "$OUT/mps/mps-log" 2>/dev/null
            unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
          else
            log "mps skipped: no nvidia-cuda-mps-control on this machine"
          fi ;;
    nofewrow)  # both nodes with cuBLAS for the projections (with FEW_ROW=1: the kernel's A/B end to end)
          TUNING_DIR= run_e2e nofewrow "$OUT/nofewrow" "${VARIANT_LATENT_C:-${LATENT_C:-1,2,4,8,16,32,64,128}}" none \
            ${E2E_FLAGS:-} --few_row_matmul=false ;;
    none) log "no end-to-end run (E2E_VARIANTS=none)" ;;
    *) log "unknown E2E_VARIANTS entry $variant" ;;
  esac
done
log "all done"
touch "$OUT/DONE"
