#!/usr/bin/env bash
# On the GPU machine, detached (started by deploy/gpu/device_wait.sh): the whole GPU work of one
# machine session, so that it outlives the per-command time limit of the device tool.
#   1. (if .device/demo is there) regenerate the demo pair with demo/make_demo_models.py run and the
#      README's step counts, in the background;
#   2. meanwhile build the CUDA bridge tools (deploy/gpu/build_bridge_tools.sh, .device/gpu-deps);
#   3. put the new models and their transformers goldens in place, run demo_models_test (the C++
#      runtime on CUDA against those goldens);
#   4. (if .device/parity-texts.jsonl is there) bf16 parity of the runtime on the demo pair;
#   5. the evaluation suite (bridge/eval/run_suite.sh cuda $SUITE_JOBS $SUITE_SCALE) on the pair, or
#      the plan script $SUITE_PLAN (deploy/gpu/plans/) with LIP_BIN and SUITE_OUT set. Results in
#      .device/suite-resume/ (a results/ folder, and extra/results/ for a plan's second suite) are
#      copied in first, so a suite cut short on one machine resumes on the next.
# Everything happens in a private copy of the repository under /tmp/lip (a later call's tree sync
# cannot touch it); stage markers in /tmp/lip/stage, logs and measurements in /tmp/lip/out.
# Environment (set it on device_wait.sh's command line; the pipeline inherits it): SUITE_SCALE
# (default 3), SUITE_JOBS (12), LIP_THREADS for the suite (1), and run_suite.sh's own overrides
# (TASKS, SEEDS, MS, PT_MS, TEST_LIMIT, ...).
# Steps whose failure the pipeline records and survives say `|| rc=$?`; anything else failing stops it,
# and the EXIT trap marks the run failed so that device_wait.sh stops waiting.
set -euo pipefail
R=/tmp/lip
SCALE=${SUITE_SCALE:-3}; JOBS=${SUITE_JOBS:-12}
mkdir -p $R/stage $R/out
trap '[ -f $R/stage/done ] || touch $R/stage/failed' EXIT
log() { echo "$(date +%T) $*" >> $R/pipeline.log; }
log "start in $PWD"
mkdir -p $R/repo
tar --exclude=./.device --exclude='./build*' -cf - . | tar xf - -C $R/repo
cp -r .device/gpu-deps $R/gpu-deps && cp -r .device/gpu-data $R/gpu-data || { log "missing .device/gpu-deps or gpu-data"; touch $R/stage/failed; exit 1; }
[ -d .device/demo ] && cp -r .device/demo $R/demo-data
[ -f .device/parity-texts.jsonl ] && cp .device/parity-texts.jsonl $R/parity-texts.jsonl
[ -d .device/suite-resume ] && cp -r .device/suite-resume $R/suite-resume
cd $R/repo
rc=0; bash deploy/gpu/unpack_data.sh $R/gpu-data > $R/out/unpack.log 2>&1 || rc=$?; log "data unpacked: $rc"
if [ -d $R/demo-data ]; then
  ( rc=0; PYTHONUNBUFFERED=1 python3 demo/make_demo_models.py run --data $R/demo-data --work /tmp/demo --pack $R/regen-pack \
      --sender-steps 11522 --receiver-steps 6708 --budget 1800 > $R/out/regen.log 2>&1 || rc=$?; echo $rc > $R/stage/regen.rc ) &
  # The build waits until both models train (their tokenizer and encoding set-up wants the CPUs).
  for i in $(seq 48); do [ -f /tmp/demo/full/ready-sender ] && [ -f /tmp/demo/full/ready-receiver ] && break; sleep 5; done
fi
log "build starts"
rc=0; JOBS=10 LIP_GPU_TEST=0 nice -n 10 bash deploy/gpu/build_bridge_tools.sh $R/gpu-deps $R/bcuda > $R/out/build.log 2>&1 || rc=$?
echo $rc > $R/stage/build.rc; log "build rc $rc"
cp $R/bcuda.ninja.log $R/bcuda.cmake.log $R/out/ 2>/dev/null || true
if [ -d $R/demo-data ]; then
  while [ ! -f $R/stage/regen.rc ]; do sleep 5; done
  log "regen rc $(cat $R/stage/regen.rc)"
  if [ ! -f /tmp/demo/full/parity/sender-llama.json ] || [ ! -f /tmp/demo/full/parity/receiver-qwen2.json ]; then
    log "regeneration produced no goldens: stopping"; touch $R/stage/failed; exit 1
  fi
  rm -rf demo/models && mkdir -p demo/models && cp -r /tmp/demo/full/models/* demo/models/
  cp /tmp/demo/full/parity/*.json tests/data/demo-parity/
fi
sha256sum demo/models/*/* > $R/out/model_sha256.txt
export LD_LIBRARY_PATH=/tmp/lip-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
rc=0; $R/bcuda/tests/model/demo_models_test > $R/out/demo_models_test.log 2>&1 || rc=$?; log "demo_models_test rc $rc"
if [ -f $R/parity-texts.jsonl ]; then
  ( rc=0; PYTHONUNBUFFERED=1 nice -n 5 python3 tests/data/models/bf16_parity_demo.py measure $R/bcuda/bridge/lip-model \
      $R/parity-texts.jsonl /tmp/parity-demo > $R/out/parity_demo.json 2> $R/out/parity_demo.log || rc=$?
    log "bf16 parity rc $rc" ) &
fi
mkdir -p $R/suite
[ -d $R/suite-resume ] && cp -r $R/suite-resume/. $R/suite/ && log "resuming with $(find $R/suite -name '*.json' | wc -l) results"
touch $R/stage/suite.started
rc=0
if [ -n "${SUITE_PLAN:-}" ]; then
  log "suite start: plan $SUITE_PLAN"
  LIP_BIN=$R/bcuda/bridge SUITE_OUT=$R/suite bash "$SUITE_PLAN" > $R/out/suite.log 2>&1 || rc=$?
else
  log "suite start: scale $SCALE jobs $JOBS"
  LIP_BIN=$R/bcuda/bridge LIP_THREADS=${LIP_THREADS:-1} NICE=0 \
    bash bridge/eval/run_suite.sh cuda $JOBS $SCALE $R/suite > $R/out/suite.log 2>&1 || rc=$?
fi
echo $rc > $R/stage/suite.rc; log "suite rc $rc"
wait
touch $R/stage/done
