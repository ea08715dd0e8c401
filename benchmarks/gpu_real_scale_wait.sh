#!/usr/bin/env bash
# One device-tool command: starts benchmarks/gpu_real_scale.sh once, detached (setsid, in a private
# copy of the repository under /tmp/lip-rs, so it outlives the command and later tree syncs), waits
# until DEADLINE seconds or its end, prints progress, and puts the results so far into
# $OUT/real_scale.tar.xz every time. Issue the next call at once (the machine goes back after 30 s idle).
#   bash benchmarks/gpu_real_scale_wait.sh DEADLINE
# `set -u` without -e and pipefail, on purpose: whatever a summary step returns (files missing while the
# run is still going), it must always pack $OUT/real_scale.tar.xz and print the progress so far.
set -u
R=/tmp/lip-rs; DEADLINE=${1:-560}
# A later call with changed sources restarts the run once the last one is done (or RESTART=1): the tree
# is synced into $R/repo file by file, so only changed files get a new mtime and ninja rebuilds only
# what they touch (the build folder persists while the machine is held).
if [ -f $R/started ] && { [ -f $R/out/DONE ] || [ "${RESTART:-0}" = 1 ]; } && [ "$(cat $R/tree.id)" != "${TREE_ID:-}" ]; then
  rm -f $R/started
fi
if [ ! -f $R/started ]; then
  rm -rf $R/out $R/new && mkdir -p $R/repo $R/out $R/new && touch $R/started && echo "${TREE_ID:-}" > $R/tree.id
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  tar --exclude='./build*' -cf - . | tar xf - -C $R/new
  (cd $R/new && find . -type f) | while read -r f; do
    cmp -s "$R/new/$f" "$R/repo/$f" || { mkdir -p "$(dirname "$R/repo/$f")"; cp "$R/new/$f" "$R/repo/$f"; }
  done
  (cd $R/repo && setsid nohup bash benchmarks/gpu_real_scale.sh .device/gpu-deps .device/real-shapes $R/out \
     < /dev/null > $R/run.out 2>&1 &)
fi
last=-100
while [ ! -f $R/out/DONE ] && [ $SECONDS -lt $DEADLINE ]; do
  if (( SECONDS - last >= 60 )); then last=$SECONDS; echo "--- t=$SECONDS"; tail -2 $R/out/progress.log 2>/dev/null; fi
  sleep 5
done
echo "=== progress"; cat $R/out/progress.log 2>/dev/null
(cd $R && tar cJf "$OUT/real_scale.tar.xz" out run.out 2>/dev/null)
[ -f $R/out/DONE ] && echo "FINISHED" || echo "still running"
grep -E "error|FAILED" $R/out/build.log 2>/dev/null | head -20
grep -E -A3 "Failure|^\[  FAILED" $R/out/decoder_ops_test.log 2>/dev/null | head -30
grep -v "^skip" $R/out/block_profile.log 2>/dev/null | tail -16
cat $R/out/model_bench.jsonl 2>/dev/null | python3 -c '
import json,sys
for l in sys.stdin:
  j=json.loads(l); print(j["runtime"] + ("" if j.get("fused_kernels", True) else "-nofused") + ("" if j.get("few_row_matmul", True) else "-nofewrow") + ("-" + j["gemm_tuning"] if "gemm_tuning" in j else ""), j["config"].split("/")[-2], "B=%d T=%d prefill %.2f ms (no cache %.2f) decode %.2f ms/step"%(j["batch"],j["prompt_len"],j["prefill_ms_median"],j.get("prefill_nocache_ms_median",-1),j["decode_ms_per_step_median"]))' 2>/dev/null
cat $R/out/projections.jsonl 2>/dev/null | python3 -c '
import json,sys
for l in sys.stdin:
  j=json.loads(l); print("proj", j["config"].split("/")[-2], j["projection"], "rows", j["rows"], "cublas %.1f us %.0f GB/s" % (j["cublas_us"], j["cublas_gb_s"]), "kernel", {k: round(v) for k, v in j["kernel_gb_s"].items()}, "auto", j["auto_splits"], "err %.1e/%.1e" % (j["cublas_relative_error"], j["kernel_relative_error"]))' 2>/dev/null
cat $R/out/sender_half.jsonl 2>/dev/null
python3 - $R/out/sender_half_kernels.csv <<'PYEOF' 2>/dev/null
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 12]
head = rows[0]; name, metric, value = head.index("Kernel Name"), head.index("Metric Name"), head.index("Metric Value")
total, count = collections.Counter(), collections.Counter()
for r in rows[1:]:
  if r[metric] == "gpu__time_duration.sum":
    k = r[name][:90]; total[k] += float(r[value].replace(",", "")); count[k] += 1
print("sender half kernels: %d launches, %.1f us in all" % (sum(count.values()), sum(total.values()) / 1e3))
for k, ns in total.most_common(15): print("  %8.1f us %4d x  %s" % (ns / 1e3, count[k], k))
PYEOF
cat $R/out/model_paths.jsonl 2>/dev/null | python3 -c '
import json,sys
for l in sys.stdin:
  j=json.loads(l); print(j["runtime"], "few_row" if j.get("few_row_matmul") else "cublas", j.get("gemm_tuning", ""), {k: round(v,2) for k,v in j["median"].items()})' 2>/dev/null
cat $R/out/model_pipelines.jsonl 2>/dev/null | python3 -c '
import json,sys
for l in sys.stdin:
  j=json.loads(l); print("pipelines", j["runtime"], "frame", j["receiver_frame_tokens"], {k: round(v,3) for k,v in j["median"].items()})' 2>/dev/null
for f in $R/out/e2e_*.json $R/out/*/e2e_*.json; do [ -f "$f" ] && python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
for m in d.get("measurements", []):
  print(sys.argv[1].split("/")[-2], m.get("path"), m.get("mode"), m.get("concurrency"), m.get("rate_msg_s"), m.get("throughput_msg_s"), m.get("p50_ms"), m.get("p99_ms"), m.get("answered_by_status"), m.get("sender_ms_mean"), m.get("receiver_ms_mean"), m.get("stages_ms_mean"))' "$f"; done
for f in $R/out/metrics_*.txt $R/out/*/metrics_*.txt; do [ -f "$f" ] && python3 -c '
import re,sys
sums, counts = {}, {}
for l in open(sys.argv[1]):
  m = re.match(r"lip_stage_ms_(sum|count)\{.*stage=\"([a-z_]+)\".*\} ([0-9.e+-]+)", l)
  if m: (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
print(sys.argv[1].split("/")[-1], {k: round(sums[k] / counts[k], 3) for k in sums if counts.get(k)})' "$f"; done
true
