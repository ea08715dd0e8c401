#!/usr/bin/env bash
# CPU plan of 2026-12-07 (issue 19): the learning rates that sat at the bottom of their grids in
# docs/results.md, measured one step lower, plus the AG News seeds the report still lacked — the
# suite's recipe (run_suite.sh STEPS_SCALE 3: 450 steps of batch 8, early stopping on 500 validation
# examples carved from train), forward, M = 8, full test splits, one LibTorch thread per run.
#   1. seed 1 at 1e-4 of every (task, method) whose chosen rate was its grid's bottom, 3e-4 (TREC's
#      sender ceiling; SST-2's bridge, sender ceiling and receiver self-bridge; AG News's bridge — chosen
#      on this CPU among {3e-4, 1e-3, 3e-3} — and sender ceiling): their validation accuracy against the
#      chosen rate's, recorded in the earlier results' learning_rate_trials;
#   2. AG News's bridge seeds 2 and 3 at the rate its CPU seed 1 chose (3e-4), and its receiver
#      self-bridge seeds 2 and 3 at its seed 1's (1e-3).
#   bash bridge/eval/plans/cpu-lr-edges-2026-12-07.sh OUT_DIR
# Environment: LIP_BIN (default build/bridge), NICE (default 10).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${1:?usage: cpu-lr-edges-2026-12-07.sh OUT_DIR}
export LIP_THREADS=1 NICE=${NICE:-10} DIRECTIONS=forward MS=8 BASELINES=0 LIP_BIN=${LIP_BIN:-build/bridge}
suite() { bash bridge/eval/run_suite.sh cpu "$1" 3 "$OUT/$2"; }
SEEDS=1 LEARNING_RATES=0.0001 TASKS=trec METHODS=sender_ceiling suite 1 trec-1e-4 &
SEEDS=1 LEARNING_RATES=0.0001 TASKS=sst2 METHODS=perceiver suite 1 sst2-bridge-1e-4 &
wait
SEEDS=1 LEARNING_RATES=0.0001 TASKS=ag_news METHODS="sender_ceiling perceiver" suite 2 ag_news-1e-4
SEEDS=1 LEARNING_RATES=0.0001 TASKS=sst2 METHODS="sender_ceiling receiver_self_bridge" suite 2 sst2-refs-1e-4
SEEDS="2 3" LEARNING_RATE=0.0003 TASKS=ag_news METHODS=perceiver suite 2 ag_news-bridge-seeds23
SEEDS="2 3" LEARNING_RATE=0.001 TASKS=ag_news METHODS=receiver_self_bridge suite 2 ag_news-self-seeds23
