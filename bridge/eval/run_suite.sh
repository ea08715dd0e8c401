#!/usr/bin/env bash
# The evaluation suite of the bridge (issue 6): trains and measures the whole matrix for the demo
# pair on AG News, SST-2 and TREC, one JSON result per run, then renders docs/results.md with
# `lip-eval report`.
#
#   bash bridge/eval/run_suite.sh DEVICE JOBS STEPS_SCALE OUT_DIR [REPORT]
#   bash bridge/eval/run_suite.sh --smoke OUT_DIR          # tiny, CPU, no ../shared (minutes)
#
#   DEVICE       cpu | cuda (frozen models in bf16 on CUDA, trainable parts fp32)
#   JOBS         runs in parallel (each with LIP_THREADS LibTorch threads, default 2)
#   STEPS_SCALE  multiplies the configs' steps (150) and the vector bridges' steps/texts, e.g. 0.2
#   OUT_DIR      bridges/, results/ (the JSON results), logs/ and results.md go here
#   REPORT       where to write the report (default OUT_DIR/results.md; docs/results.md to publish)
#
# The matrix, per task: the Perceiver bridge at M in $MS x seeds $SEEDS; receiver-only prompt
# tuning at M in $PT_MS x seeds; the bottleneck adapter and the dual translator + blending x seeds;
# the capacity-matched references at the baseline M x seeds, per direction: the sender ceiling
# (lip-train --method=sender_ceiling) and the receiver self-bridge (--method=receiver_self_bridge,
# measured by lip-eval bridge like the bridge, raw and calibrated);
# the reverse direction (models swapped) with the bridge and prompt tuning at M=8 x seeds; the
# baselines (receiver zero-shot raw and calibrated, the sender linear probe on the whole train split
# with its L2 chosen on validation, text relay) per direction, and the latency of
# bridge vs text relay, from each direction's seed-1 M=8 bridge. A failed run leaves a result with
# its error (the report lists it) and the rest go on. Environment overrides: TASKS, SEEDS, MS,
# PT_MS, TEST_LIMIT (test examples per run, 0 = all), RELAY_LIMIT, LATENCY_MESSAGES,
# PROBE_TRAIN_LIMIT, LIP_THREADS, LIP_BIN (default build/bridge), NICE (default 5), and:
#   LEARNING_RATES  e.g. 0.001,0.003,0.01,0.03, or "default" (3e-4..1e-1 in half-decades): every
#                   trained method (bridge, self-bridge, ceiling, prompt tuning) chooses its peak
#                   learning rate on validation among these (lip-train --learning_rates); the report
#                   flags a rate at an edge of the grid; unset: the configs' learning_rate
#   LEARNING_RATE   one peak learning rate for every trained method instead of the configs' (e.g. the
#                   rate a seed-1 grid chose, for the other seeds); LEARNING_RATES wins when both are set
#   METHODS         subset of "perceiver prompt_tuning sender_ceiling receiver_self_bridge bottleneck
#                   dual_translator" (default: all)
#   DIRECTIONS      subset of "forward reverse" (default: both)
#   BASELINES       0: the seed-1 bridge run does not also run the baselines (default 1)
#   VARIANTS        ablations: ';'-separated JSON merge patches of the task config, e.g.
#                   '{"source_layer":5};{"energy_mode":"rms"}'; each is trained as a bridge at the
#                   baseline M, forward direction, every seed (lip-train --config_patch), and reported
#                   in its own table beside the unchanged config
set -euo pipefail
cd "$(dirname "$0")/../.."

SMOKE=0
if [[ "${1:-}" == "--smoke" ]]; then
  SMOKE=1
  DEVICE=cpu JOBS=1 SCALE=0 OUT="${2:?usage: run_suite.sh --smoke OUT_DIR}"
  REPORT="${3:-$OUT/results.md}"
else
  DEVICE="${1:?usage: run_suite.sh DEVICE JOBS STEPS_SCALE OUT_DIR [REPORT]}"
  JOBS="${2:?}" SCALE="${3:?}" OUT="${4:?}"
  REPORT="${5:-$OUT/results.md}"
fi
BIN="${LIP_BIN:-build/bridge}"
THREADS="${LIP_THREADS:-2}"
NICE="${NICE:-5}"
for tool in lip-train lip-eval lip-vector-bridge; do
  [[ -x "$BIN/$tool" ]] || { echo "run_suite: $BIN/$tool is missing (build it, or set LIP_BIN)" >&2; exit 1; }
done
mkdir -p "$OUT/bridges" "$OUT/results" "$OUT/logs" "$OUT/configs"
OUT="$(cd "$OUT" && pwd)"

if (( SMOKE )); then
  # A two-class task from the committed SST-2 train sample: 80 rows to train on, the other 20 as the
  # "test" split (smoke only: its numbers mean nothing). Tiny steps, one seed, M = 4.
  data="$OUT/smoke-data/sst2"
  mkdir -p "$data"
  head -n 80 tests/data/sst2-train-head100.jsonl > "$data/train.jsonl"
  tail -n 20 tests/data/sst2-train-head100.jsonl > "$data/test.jsonl"
  TASKS="${TASKS:-sst2}" SEEDS="${SEEDS:-1}" MS="${MS:-4}" PT_MS="${PT_MS:-4}"
  TEST_LIMIT="${TEST_LIMIT:-20}" RELAY_LIMIT="${RELAY_LIMIT:-2}" LATENCY_MESSAGES="${LATENCY_MESSAGES:-2}"
  PROBE_TRAIN_LIMIT="${PROBE_TRAIN_LIMIT:-80}"
  STEPS=2 VB_STEPS=5 VB_TRAIN=40 RELAY_TOKENS=4
else
  TASKS="${TASKS:-ag_news sst2 trec}" SEEDS="${SEEDS:-1 2 3}" MS="${MS:-4 8 16}" PT_MS="${PT_MS:-8}"
  TEST_LIMIT="${TEST_LIMIT:-0}" RELAY_LIMIT="${RELAY_LIMIT:-100}" LATENCY_MESSAGES="${LATENCY_MESSAGES:-20}"
  PROBE_TRAIN_LIMIT="${PROBE_TRAIN_LIMIT:-0}"
  STEPS=$(awk -v s="$SCALE" 'BEGIN { n = int(150 * s + 0.5); print (n < 2 ? 2 : n) }')
  VB_STEPS=$(awk -v s="$SCALE" 'BEGIN { n = int(600 * s + 0.5); print (n < 5 ? 5 : n) }')
  VB_TRAIN=$(awk -v s="$SCALE" 'BEGIN { n = int(2000 * s + 0.5); print (n < 100 ? 100 : n) }')
  RELAY_TOKENS=24
fi

METHODS="${METHODS:-perceiver prompt_tuning sender_ceiling receiver_self_bridge bottleneck dual_translator}"
DIRECTIONS="${DIRECTIONS:-forward reverse}"
BASELINES="${BASELINES:-1}"
LR_FLAG=""
[[ -n "${LEARNING_RATES:-}" ]] && LR_FLAG=" --learning_rates=$LEARNING_RATES"
[[ -z "${LEARNING_RATES:-}" && -n "${LEARNING_RATE:-}" ]] && LR_FLAG=" --learning_rate=$LEARNING_RATE"
wanted() { [[ " $METHODS " == *" $1 "* ]]; }

# The run config of TASK in DIRECTION (forward: bridge/configs/demo_TASK.json; reverse:
# demo_reverse_TASK.json). Smoke mode points a copy at its own data and shrinks validation.
config_for() {
  local task="$1" direction="$2" src
  if [[ "$direction" == forward ]]; then src="bridge/configs/demo_$task.json"; else src="bridge/configs/demo_reverse_$task.json"; fi
  if (( SMOKE )); then
    local dst="$OUT/configs/$(basename "$src")"
    python3 - "$src" "$dst" "$OUT/smoke-data/$task/train.jsonl" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(train_file=sys.argv[3], validation_size=10, eval_every=0, normalizer_texts=16, batch_size=4,
         warmup_steps=1)
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
    echo "$dst"
  else
    echo "$src"
  fi
}

# One line per job in $OUT/jobs.txt: NAME<TAB>TASK<TAB>METHOD<TAB>DIRECTION<TAB>M<TAB>SEED<TAB>COMMAND,
# most important first (so a run cut short still has every task's main rows): see add_job.
: > "$OUT/jobs.unsorted"
add_job() {
  # 0: seed-1 bridge at the baseline M (with latency and baselines); 1: seed-1 prompt tuning;
  # 2: seed-1 vector bridges; 3: the other seeds of the bridge at the baseline M and of prompt
  # tuning (the targets' rows); 4: the rest (other M, the vector bridges' other seeds); 5: ablations.
  local priority=4
  if [[ "$3" == ablation ]]; then
    priority=5
  elif [[ "$6" == "$baseline_seed" ]]; then
    case "$3" in
      perceiver) if [[ "$5" == "$baseline_m" ]]; then priority=0; fi ;;
      prompt_tuning|sender_ceiling|receiver_self_bridge) priority=1 ;;
      *) priority=2 ;;
    esac
  elif [[ "$3" == prompt_tuning || "$3" == sender_ceiling || "$3" == receiver_self_bridge ||
          ( "$3" == perceiver && "$5" == "$baseline_m" ) ]]; then
    priority=3
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$priority" "$@" >> "$OUT/jobs.unsorted"
}
common="--threads=$THREADS"
for task in $TASKS; do
  for direction in $DIRECTIONS; do
    cfg=$(config_for "$task" "$direction")
    test_file="$(python3 -c 'import json,os,sys; print(os.path.join(os.path.dirname(json.load(open(sys.argv[1]))["train_file"]), "test.jsonl"))' "$cfg")"
    if [[ "$direction" == forward ]]; then ms="$MS"; pt_ms="$PT_MS"; else ms=8; pt_ms=8; (( SMOKE )) && ms=4 && pt_ms=4; fi
    # The run that also measures latency and the baselines: seed 1 (the first seed) at M=8, or the first M.
    baseline_m=$(echo $ms | tr ' ' '\n' | grep -qx 8 && echo 8 || echo ${ms%% *})
    baseline_seed=${SEEDS%% *}
    wanted perceiver || ms=""
    wanted prompt_tuning || pt_ms=""
    for m in $ms; do
      for seed in $SEEDS; do
        name="$task-$direction-perceiver-m$m-s$seed"
        bridge="$OUT/bridges/$name"
        cmd="$BIN/lip-train --config=$cfg --num_queries=$m --seed=$seed --steps=$STEPS$LR_FLAG --device=$DEVICE $common --out=$bridge"
        cmd+=" && $BIN/lip-eval bridge --bridge=$bridge --direction=$direction --device=$DEVICE $common"
        cmd+=" --test_limit=$TEST_LIMIT --result=$OUT/results/$name.json"
        if [[ "$m" == "$baseline_m" && "$seed" == "$baseline_seed" ]]; then
          cmd+=" --latency_messages=$LATENCY_MESSAGES --relay_tokens=$RELAY_TOKENS"
        fi
        if [[ "$m" == "$baseline_m" && "$seed" == "$baseline_seed" && "$BASELINES" == 1 ]]; then
          cmd+=" && $BIN/lip-eval baselines --bridge=$bridge --direction=$direction --device=$DEVICE $common"
          cmd+=" --test_limit=$TEST_LIMIT --relay_limit=$RELAY_LIMIT --relay_tokens=$RELAY_TOKENS"
          cmd+=" --probe_train_limit=$PROBE_TRAIN_LIMIT --result_dir=$OUT/results"
        fi
        add_job "$name" "$task" perceiver "$direction" "$m" "$seed" "$cmd"
      done
    done
    for m in $pt_ms; do
      for seed in $SEEDS; do
        name="$task-$direction-prompt_tuning-m$m-s$seed"
        add_job "$name" "$task" prompt_tuning "$direction" "$m" "$seed" \
          "$BIN/lip-train --config=$cfg --method=prompt_tuning --num_queries=$m --seed=$seed --steps=$STEPS$LR_FLAG --device=$DEVICE $common --direction=$direction --test_file=$test_file --test_limit=$TEST_LIMIT --result=$OUT/results/$name.json"
      done
    done
    # The capacity-matched references at the baseline M: the sender ceiling and the receiver self-bridge.
    for seed in $SEEDS; do
      if wanted sender_ceiling; then
        name="$task-$direction-sender_ceiling-m$baseline_m-s$seed"
        add_job "$name" "$task" sender_ceiling "$direction" "$baseline_m" "$seed" \
          "$BIN/lip-train --config=$cfg --method=sender_ceiling --num_queries=$baseline_m --seed=$seed --steps=$STEPS$LR_FLAG --device=$DEVICE $common --direction=$direction --test_file=$test_file --test_limit=$TEST_LIMIT --result=$OUT/results/$name.json"
      fi
      if wanted receiver_self_bridge; then
        name="$task-$direction-receiver_self_bridge-m$baseline_m-s$seed"
        bridge="$OUT/bridges/$name"
        cmd="$BIN/lip-train --config=$cfg --method=receiver_self_bridge --num_queries=$baseline_m --seed=$seed --steps=$STEPS$LR_FLAG --device=$DEVICE $common --out=$bridge"
        cmd+=" && $BIN/lip-eval bridge --bridge=$bridge --direction=$direction --device=$DEVICE $common"
        cmd+=" --test_limit=$TEST_LIMIT --result=$OUT/results/$name.json"
        add_job "$name" "$task" receiver_self_bridge "$direction" "$baseline_m" "$seed" "$cmd"
      fi
    done
    if [[ "$direction" == forward && -n "${VARIANTS:-}" ]]; then
      IFS=';' read -ra patches <<< "$VARIANTS"
      for i in "${!patches[@]}"; do
        for seed in $SEEDS; do
          name="$task-$direction-perceiver-m$baseline_m-v$((i + 1))-s$seed"
          bridge="$OUT/bridges/$name"
          cmd="$BIN/lip-train --config=$cfg --num_queries=$baseline_m --seed=$seed --steps=$STEPS$LR_FLAG"
          cmd+=" --config_patch='${patches[$i]}' --device=$DEVICE $common --out=$bridge"
          cmd+=" && $BIN/lip-eval bridge --bridge=$bridge --direction=$direction --device=$DEVICE $common"
          cmd+=" --test_limit=$TEST_LIMIT --result=$OUT/results/$name.json"
          add_job "$name" "$task" ablation "$direction" "$baseline_m" "$seed" "$cmd"
        done
      done
    fi
    if [[ "$direction" == forward ]]; then
      for kind in bottleneck dual_translator; do
        wanted "$kind" || continue
        for seed in $SEEDS; do
          name="$task-$direction-$kind-s$seed"
          add_job "$name" "$task" "$kind" "$direction" 0 "$seed" \
            "$BIN/lip-vector-bridge --config=$cfg --kind=$kind --seed=$seed --steps=$VB_STEPS --train_limit=$VB_TRAIN --device=$DEVICE $common --direction=$direction --test_file=$test_file --test_limit=$TEST_LIMIT --out=$OUT/bridges/$name --result=$OUT/results/$name.json"
        done
      done
    fi
  done
done

sort -s -t $'\t' -k1,1n "$OUT/jobs.unsorted" | cut -f2- > "$OUT/jobs.txt"
rm "$OUT/jobs.unsorted"

# Runs one job line; on failure leaves a result that names the error and the log. A job whose
# results are all there without an error is skipped, so a cut-short suite resumes where it stopped.
run_job() {
  local name task method direction m seed cmd
  IFS=$'\t' read -r name task method direction m seed cmd <<< "$1"
  local log="$OUT/logs/$name.log" start=$SECONDS expected
  expected=$(grep -o -- '--result=[^ ]*' <<< "$cmd" | cut -d= -f2-)
  if [[ "$cmd" == *" baselines "* ]]; then
    expected+=$(printf ' %s' "$OUT/results/$task-$direction-"{zero_shot,linear_probe,text_relay}.json)
  fi
  local done=1 file
  for file in $expected; do
    if [[ ! -f "$file" ]] || grep -q '"error": *"[^"]' "$file"; then done=0; fi
  done
  if (( done )); then echo "run_suite: have   $name (results exist)" >&2; return 0; fi
  echo "run_suite: start $name" >&2
  if nice -n "$NICE" bash -c "$cmd" > "$log" 2>&1; then
    echo "run_suite: done  $name ($((SECONDS - start)) s)" >&2
  else
    local rc=$? reason
    reason=$(grep -E "^lip-[a-z-]+: [A-Z_]+:" "$log" | tail -n 1 | tr -d '"\\' | cut -c1-300)
    echo "run_suite: FAIL  $name (exit $rc; $log)" >&2
    local variant=""
    if [[ "$method" == ablation ]]; then  # an ablation's failure belongs to its variant, not the main tables
      method=perceiver
      variant=$(grep -o -- "--config_patch='[^']*'" <<< "$cmd" | cut -d"'" -f2 | sed 's/\\/\\\\/g; s/"/\\"/g')
    fi
    printf '{"task":"%s","method":"%s","direction":"%s","num_soft_tokens":%s,"seed":%s,"variant":"%s","error":"exit %s: %s (log: logs/%s.log)"}\n' \
      "$task" "$method" "$direction" "$m" "$seed" "$variant" "$rc" "${reason:-see the log}" "$name" > "$OUT/results/$name.json"
  fi
}
export -f run_job
export OUT NICE
echo "run_suite: $(wc -l < "$OUT/jobs.txt") runs, $JOBS at a time, device $DEVICE, $THREADS threads each," \
     "bridge/prompt-tuning steps $STEPS, vector bridges $VB_STEPS steps on $VB_TRAIN texts" >&2
suite_start=$SECONDS
tr '\n' '\0' < "$OUT/jobs.txt" | xargs -0 -P "$JOBS" -I{} bash -c 'run_job "$1"' _ {}

preamble="Suite: \`bridge/eval/run_suite.sh\` on $DEVICE, $JOBS parallel run(s) x $THREADS LibTorch threads"
preamble+=" ($(nproc) CPU cores on the machine), bridge and prompt tuning $STEPS steps (batch: the config's),"
preamble+=" vector bridges $VB_STEPS steps on $VB_TRAIN training texts, seeds {$SEEDS},"
preamble+=" learning rate $([[ -n "${LEARNING_RATES:-}" ]] && echo "chosen on validation among {$LEARNING_RATES} (every trained method)" || echo "the configs'"), early stopping on validation (the configs' patience), test examples per run:"
preamble+=" $([[ $TEST_LIMIT == 0 ]] && echo all || echo "a stratified, seeded sample of $TEST_LIMIT of each test split (the same for every method)"), text relay on a stratified sample of $RELAY_LIMIT,"
preamble+=" sender linear probe on $([[ $PROBE_TRAIN_LIMIT == 0 ]] && echo "the whole train split" || echo "a stratified sample of $PROBE_TRAIN_LIMIT training texts")."
preamble+=" The whole matrix took $(( (SECONDS - suite_start) / 60 )) min."
(( SMOKE )) && preamble+=" SMOKE MODE: trained on 80 rows of tests/data/sst2-train-head100.jsonl and scored on its last 20; the numbers are meaningless."
"$BIN/lip-eval" report --results="$OUT/results" --out="$REPORT" --preamble="$preamble"
