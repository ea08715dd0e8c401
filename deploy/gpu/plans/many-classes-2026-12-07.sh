#!/usr/bin/env bash
# On the GPU machine (one device call, about 5 minutes on an H100): issue 19's task of dozens of classes trained from a
# JSONL file alone, to convergence — TREC's 50 fine labels (`label` = `fine_label`, e.g. "DESC:manner";
# the files are made here by the command in docs/results/README.md, cpu-many-classes row), the demo pair,
# `lip-train --train_file` with everything defaulted except early stopping (patience 6 evaluations of
# 100 steps, best weights kept) and the step budget. Sender ceiling (the same Perceiver + a linear head on
# the sender's states) and bridge, seeds 1-3, all six runs at once on the GPU.
#   bash deploy/gpu/plans/many-classes-2026-12-07.sh DEPS_DIR DATA_DIR OUT_DIR
# DEPS_DIR as benchmarks/gpu_runtime_ab.sh's; DATA_DIR holds train.jsonl and test.jsonl.
# The step budget comes from a 20-step probe of the bridge, so that six runs in parallel end within
# RUN_SECONDS (default 300) at that pace, capped at 4000 steps.
# `set -u` without -e: a failed run is logged, the others still finish.
set -u
DEPS=${1:?deps}; DATA=$(cd "${2:?data}" && pwd); OUT=${3:?out}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
log() { echo "$(date +%T) $*" | tee -a "$OUT/progress.log"; }
LIP_GPU_TEST=0 LIP_GPU_TOOLS=lip-train bash deploy/gpu/build_bridge_tools.sh "$DEPS" /tmp/lip-bt > "$OUT/build.log" 2>&1 ||
  { log "build failed"; tail -30 "$OUT/build.log"; exit 1; }
export LD_LIBRARY_PATH=/tmp/lip-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
TRAIN=/tmp/lip-bt/bridge/lip-train
common=(--train_file="$DATA/train.jsonl" --device=cuda --config_patch='{"early_stopping_patience":6,"eval_every":100}')
start=$(date +%s.%N)
"$TRAIN" "${common[@]}" --steps=20 --seed=9 --out=/tmp/probe > "$OUT/probe.log" 2>&1 || log "probe failed: $(tail -3 "$OUT/probe.log")"
probe=$(python3 -c "print($(date +%s.%N) - $start)")
STEPS=$(python3 -c "print(max(200, min(4000, int(${RUN_SECONDS:-300} / ($probe / 20) / 2.5) // 100 * 100)))")
log "probe: 20 steps in ${probe}s -> $STEPS steps per run"
pids=()
for seed in 1 2 3; do
  for method in sender_ceiling bridge; do
    "$TRAIN" "${common[@]}" --method=$method --steps=$STEPS --seed=$seed --out=/tmp/run-$method-$seed \
      --test_file="$DATA/test.jsonl" --result="$OUT/trec_fine-forward-$method-m8-s$seed.json" \
      > "$OUT/$method-s$seed.log" 2>&1 &
    pids+=($!)
  done
done
for p in "${pids[@]}"; do wait $p || log "a run failed (pid $p)"; done
log "all runs done"
python3 - "$OUT" <<'PYEOF'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/trec_fine-*.json")):
    j = json.load(open(f))
    print(f.split("/")[-1], {k: j.get(k) for k in ("accuracy", "macro_f1", "steps", "steps_run", "learning_rate")})
PYEOF
