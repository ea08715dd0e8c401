#!/usr/bin/env bash
# Device plan of 2026-12-07 (issue 19), run by deploy/gpu/device_pipeline.sh with SUITE_PLAN set to
# this file; LIP_BIN and SUITE_OUT come from the pipeline. The learning rates that sat at the bottom
# of their grids in docs/results.md, measured one step lower, on one H100, seed 1, forward, M = 8,
# the suite's recipe (run_suite.sh STEPS_SCALE 3: 450 steps of batch 8, early stopping on 500
# validation examples carved from train), each run choosing among {1e-4, 3e-4, 1e-3} so that the
# rate chosen before is measured again beside the new one on the same machine:
#   - the Perceiver bridge on AG News (chose 1e-3, the bottom of {1e-3 .. 3e-2}, on the H100; 3e-4,
#     the bottom of {3e-4, 1e-3, 3e-3}, on the CPU) and on SST-2 (3e-4, bottom);
#   - the sender ceiling on TREC, SST-2 and AG News (3e-4, bottom, each);
#   - and, beside them, AG News's receiver self-bridge seeds 2 and 3 at the rate its seed 1 chose
#     (1e-3, inside its grid).
# The baselines are not rerun (they do not depend on the learning rate).
set -euo pipefail
export LIP_THREADS=${LIP_THREADS:-1} NICE=0 DIRECTIONS=forward MS=8 BASELINES=0
TASKS=ag_news SEEDS="2 3" METHODS=receiver_self_bridge LEARNING_RATE=0.001 \
  bash bridge/eval/run_suite.sh cuda 2 3 "$SUITE_OUT/extra" &
extra=$!
rc=0
TASKS="trec sst2 ag_news" SEEDS=1 METHODS="perceiver sender_ceiling" LEARNING_RATES=0.0001,0.0003,0.001 \
  bash bridge/eval/run_suite.sh cuda 6 3 "$SUITE_OUT" || rc=$?
wait "$extra" || rc=$?  # both suites finish; either failing fails the plan
exit "$rc"
