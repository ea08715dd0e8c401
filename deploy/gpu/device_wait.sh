#!/usr/bin/env bash
# One device-tool command: starts deploy/gpu/device_pipeline.sh once (setsid, so it survives the
# command), waits until DEADLINE seconds or the pipeline's end, prints progress, and puts what is
# finished into $OUT (at most 8 files, each < 16 MiB: the regenerated models as tar parts plus
# regen-meta.tar.xz once; suite-results.tar.xz (the results so far) every time; bridges.tar.xz (seed-1
# M=8 bridges) and misc.tar.xz at the end, or with `final`). Issue the next call at once: the machine
# is given back after 30 s idle.
#   bash deploy/gpu/device_wait.sh DEADLINE [final]
set -euo pipefail  # best-effort steps below say `|| true` where a miss is fine
R=/tmp/lip; DEADLINE=${1:-560}; FINAL=${2:-}
if [ ! -f $R/stage/started ]; then
  mkdir -p $R/stage && touch $R/stage/started
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  setsid nohup bash deploy/gpu/device_pipeline.sh < /dev/null > /tmp/lip-pipeline.out 2>&1 &
fi
status() {
  echo "--- t=$SECONDS $(date +%T)"; tail -3 $R/pipeline.log 2>/dev/null || true
  for r in sender receiver; do
    { grep -h "step \|saved\|done in" /tmp/demo/logs/full-$r.log 2>/dev/null || true; } | tail -1
  done
  if [ -f $R/out/suite.log ]; then
    echo "suite: $(grep -c 'done ' $R/out/suite.log) done, $(grep -c 'FAIL ' $R/out/suite.log) failed, $(grep -c 'start ' $R/out/suite.log) started"
  fi
}
last=-100
while [ ! -f $R/stage/done ] && [ ! -f $R/stage/failed ] && [ $SECONDS -lt $DEADLINE ]; do
  if (( SECONDS - last >= 60 )); then last=$SECONDS; status; fi
  sleep 5
done
status
if [ -f $R/stage/regen.rc ] && [ ! -f $R/stage/regen.delivered ]; then
  cp $R/regen-pack/*.tar.part-* "$OUT"/ 2>/dev/null || true
  (cd /tmp/demo && tar cJf "$OUT"/regen-meta.tar.xz full/result-*.json full/parity logs 2>/dev/null) || true
  touch $R/stage/regen.delivered; echo "delivered the regenerated models"; tail -40 $R/out/regen.log || true
fi
# The suite's results so far come back with every call: if the machine is lost before the end, they
# go to .device/suite-resume/ and the next machine carries on from them.
if [ -d $R/suite/results ]; then
  (cd $R/suite && tar cJf "$OUT"/suite-results.tar.xz --exclude=bridges --exclude=configs . 2>/dev/null) || true
fi
if [ -f $R/stage/done ] || [ -f $R/stage/failed ] || [ "$FINAL" = final ]; then
  if [ -d $R/suite/bridges ]; then
    (cd $R/suite/bridges && tar cJf "$OUT"/bridges.tar.xz *-perceiver-m8-s1 2>/dev/null) || true
  fi
  (cd $R && tar cJf "$OUT"/misc.tar.xz pipeline.log out 2>/dev/null) || true
  echo "delivered the suite and logs"; tail -30 $R/out/suite.log 2>/dev/null || true
fi
ls -l "$OUT"
