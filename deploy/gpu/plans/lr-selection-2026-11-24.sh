#!/usr/bin/env bash
# Device plan of 2026-11-24 (issue 6), run by deploy/gpu/device_pipeline.sh with SUITE_PLAN set to
# this file; LIP_BIN and SUITE_OUT come from the pipeline. Two suites side by side on one H100:
#   1. the Perceiver bridge (M = 4, 8, 16; reverse direction M = 8) and receiver-only prompt tuning
#      (M = 8, both directions), seeds 1-3, each choosing its peak learning rate on validation
#      among {0.001, 0.003, 0.01, 0.03}; the baselines are not rerun (they do not depend on the
#      learning rate; the 2026-11-23 suite has them);
#   2. the dual translator + blending on SST-2, seeds 2 and 3 (missing from the 2026-11-23 suite).
# Same scale as that suite (run_suite.sh STEPS_SCALE 3: 450 steps), LIP_THREADS=1 per run.
set -euo pipefail
export LIP_THREADS=${LIP_THREADS:-1} NICE=0
TASKS=sst2 SEEDS="2 3" METHODS=dual_translator DIRECTIONS=forward \
  bash bridge/eval/run_suite.sh cuda 2 3 "$SUITE_OUT/extra" &
extra=$!
rc=0
LEARNING_RATES=0.001,0.003,0.01,0.03 METHODS="perceiver prompt_tuning" BASELINES=0 \
  bash bridge/eval/run_suite.sh cuda 13 3 "$SUITE_OUT" || rc=$?
wait "$extra" || rc=$?  # both suites finish; either failing fails the plan
exit "$rc"
