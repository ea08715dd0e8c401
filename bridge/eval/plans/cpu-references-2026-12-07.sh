#!/usr/bin/env bash
# CPU plan of 2026-12-07 (issue 19): the forward bridge against its capacity-matched references at
# the suite's scale (run_suite.sh STEPS_SCALE 3: 450 steps of batch 8, early stopping on 500
# validation examples carved from train), on TREC and SST-2, seeds 1-3, full test splits.
#   1. seed 1 chooses each method's peak learning rate on validation: the Perceiver bridge, the
#      sender ceiling and the receiver self-bridge among {3e-4, 1e-3, 3e-3} (every earlier bridge
#      run chose 1e-3 or the bottom of its grid), receiver prompt tuning among {3e-3, 1e-2, 3e-2}
#      (it chose 3e-3..3e-2 before); the baselines (zero-shot raw and calibrated, the tuned linear
#      probe, text relay on the whole test split) run once with the seed-1 bridge;
#   2. seeds 2 and 3 of each (task, method) train at the rate seed 1 chose (LEARNING_RATE);
#   3. every result goes into OUT/results and `lip-eval report` renders OUT/results.md.
#   bash bridge/eval/plans/cpu-references-2026-12-07.sh OUT_DIR [JOBS]
# Environment: TASKS (default "trec sst2"), LIP_BIN, LIP_THREADS (default 1), NICE (default 10).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${1:?usage: cpu-references-2026-12-07.sh OUT_DIR [JOBS]}; JOBS=${2:-1}
TASKS=${TASKS:-trec sst2}
BIN=${LIP_BIN:-build/bridge}
export LIP_THREADS=${LIP_THREADS:-1} NICE=${NICE:-10} DIRECTIONS=forward MS=8 PT_MS=8 RELAY_LIMIT=0 LIP_BIN=$BIN
BRIDGE_METHODS="perceiver sender_ceiling receiver_self_bridge"
mkdir -p "$OUT/results"

TASKS="$TASKS" SEEDS=1 METHODS="$BRIDGE_METHODS" LEARNING_RATES=0.0003,0.001,0.003 BASELINES=1 \
  bash bridge/eval/run_suite.sh cpu "$JOBS" 3 "$OUT/seed1-bridges"
TASKS="$TASKS" SEEDS=1 METHODS=prompt_tuning LEARNING_RATES=0.003,0.01,0.03 BASELINES=0 \
  bash bridge/eval/run_suite.sh cpu "$JOBS" 3 "$OUT/seed1-prompt-tuning"
cp "$OUT"/seed1-*/results/*.json "$OUT/results/"

for task in $TASKS; do
  for method in $BRIDGE_METHODS prompt_tuning; do
    seed1="$OUT/results/$task-forward-$method-m8-s1.json"
    rate=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["learning_rate"])' "$seed1")
    echo "plan: $task $method seeds 2 and 3 at the seed-1 rate $rate"
    TASKS=$task SEEDS="2 3" METHODS=$method LEARNING_RATE=$rate BASELINES=0 \
      bash bridge/eval/run_suite.sh cpu "$JOBS" 3 "$OUT/seeds23-$task-$method"
    cp "$OUT/seeds23-$task-$method"/results/*.json "$OUT/results/"
  done
done
"$BIN/lip-eval" report --results="$OUT/results" --out="$OUT/results.md"
