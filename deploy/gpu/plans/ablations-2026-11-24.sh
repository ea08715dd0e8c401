#!/usr/bin/env bash
# Device plan of 2026-11-24 (issue 6: "push past the targets"), run by deploy/gpu/device_pipeline.sh
# with SUITE_PLAN set to this file. Ablations of the Perceiver bridge at M = 8, forward direction,
# seeds 1-3, on all three tasks, each one change to the task config (lip-train --config_patch) at the
# configs' learning rate (0.001: the rate every bridge chose on validation in the learning-rate plan
# of the same day). Same scale as the main suite (STEPS_SCALE 3: 450 steps), LIP_THREADS=1 per run.
set -euo pipefail
export LIP_THREADS=${LIP_THREADS:-1} NICE=0
variants='{"source_layer":1};{"source_layer":5};{"perceiver":{"output_width":32}};{"perceiver":{"output_width":512}}'
variants+=';{"steps":1350};{"energy_mode":"rms"};{"energy_mode":"none"};{"first_token_weight":0}'
variants+=';{"diversity_weight":0};{"perceiver":{"depth":4,"width":256}}'
METHODS=none DIRECTIONS=forward BASELINES=0 VARIANTS="$variants" \
  bash bridge/eval/run_suite.sh cuda 14 3 "$SUITE_OUT"
