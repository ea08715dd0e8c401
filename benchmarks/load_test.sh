#!/usr/bin/env bash
# The load test: a registry, a receiver (demo receiver-qwen2) and a sender (demo sender-llama) on
# 127.0.0.1 with fresh mTLS certificates and the demo bridge, then `lipctl bench run` sweeps the three
# paths — latent (Sender.Send), text relay (Sender.RelayText, the sender writes up to 32 tokens) and
# direct text (the receiver reads the original text, SendText) — closed loop at 1, 2, 4, ... in flight,
# then open loop (Poisson arrivals) at fractions of each path's saturation throughput. Writes
#   DIR/summary.json   per path: saturation throughput, p50/p99 at 1 in flight, bytes, answers by
#                      status, accuracy; every level under "measurements" (schema: benchmarks/README.md)
#   DIR/load_test.csv  one row per level
#   DIR/latency_vs_throughput.png  (python3-matplotlib; skipped with a message when it is missing)
# and stops every node. Fails when a node does not come up or stop cleanly, or when any request went
# unanswered or got an answer other than OK / RESOURCE_EXHAUSTED.
#
#   bash benchmarks/load_test.sh [--duration S] [--min-messages N] [--out DIR] [--bridge DIR]
#                                [--max-concurrency N] [--generate-tokens N] [--rate-fractions F,F] [--task T]
# Defaults: 6 s per level, stretched (to at most 60 s) until 16 requests were sent; DIR =
# benchmarks/results, demo/bridges/demo-ag_news, 8, 32, 0.5,0.9 (3 to 5 minutes on a 2-core CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=6 MIN_MESSAGES=16 OUT=benchmarks/results BRIDGE=demo/bridges/demo-ag_news MAX_C=8 TOKENS=32 FRACTIONS=0.5,0.9 TASK=
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --min-messages) MIN_MESSAGES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --bridge) BRIDGE=$2; shift 2 ;;
    --max-concurrency) MAX_C=$2; shift 2 ;;
    --generate-tokens) TOKENS=$2; shift 2 ;;
    --rate-fractions) FRACTIONS=$2; shift 2 ;;
    --task) TASK=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "load_test: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
BUILD_DIR=${LIP_BUILD_DIR:-build}
PY=/usr/bin/python3
if [ ! -f "$BRIDGE/bridge.json" ]; then echo "load_test: no bridge checkpoint at $BRIDGE" >&2; exit 1; fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then cmake -S . -B "$BUILD_DIR" -G Ninja; fi
cmake --build "$BUILD_DIR" --target lip-registry lip-receiver lip-sender lipctl -j "${LIP_JOBS:-$(nproc)}"
mkdir -p "$OUT"

work=$(mktemp -d)
pids=()
stop_all() {  # TERM every node, wait (bounded), KILL stragglers
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap 'stop_all; rm -rf "$work"' EXIT
bash deploy/certs/make_certs.sh "$work/certs" > /dev/null
tls() { echo "--tls_cert=$work/certs/$1.crt --tls_key=$work/certs/$1.key --tls_ca=$work/certs/ca.crt"; }

# start NAME BINARY ARGS...: runs a node, waits for its listening line, sets PORT_<NAME>.
start() {
  local name=$1 binary=$2; shift 2
  "$binary" "$@" > "$work/$name.out" 2> "$work/$name.log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    if grep -q '"event":"listening"' "$work/$name.out" 2>/dev/null; then
      local port
      port=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$work/$name.out")
      printf -v "PORT_${name}" '%s' "$port"
      echo "  $name listening on 127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "load_test: $name exited during startup:" >&2; tail -5 "$work/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "load_test: $name did not start within 60 s" >&2; tail -5 "$work/$name.log" >&2; exit 1
}

B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
bridge_name=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$BRIDGE/bridge.json")
[ -n "$TASK" ] || TASK=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("task",""))' "$BRIDGE/bridge.json")
echo "== nodes: registry, receiver and sender for $bridge_name on 127.0.0.1 (mTLS)"
start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(tls registry)
"$LIPCTL" registry upload "$BRIDGE" --registry "127.0.0.1:$PORT_registry" \
  --cert "$work/certs/admin.crt" --key "$work/certs/admin.key" --ca "$work/certs/ca.crt" > /dev/null
# The receiver and the sender share this machine's cores: one LibTorch thread each, or they
# oversubscribe them (measured: benchmarks/README.md).
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --torch_threads=${LIP_TORCH_THREADS:-1}"
start receiver "$B/lip-receiver" $common --node_id=receiver-load --data_dir="$work/receiver" \
  --model_dir=demo/models/receiver-qwen2 --bridge="$bridge_name" $(tls receiver)
start sender "$B/lip-sender" $common --node_id=sender-load --data_dir="$work/sender" \
  --model_dir=demo/models/sender-llama --bridge="$bridge_name" $(tls sender)

# What was measured, on what.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
device="CPU: ${cpu:-unknown} ($(nproc) cores), LibTorch fp32"
shapes=$($PY - "$BRIDGE/bridge.json" <<'PYEOF'
import json, sys
bridge = json.load(open(sys.argv[1]))
def model(d):
    c = json.load(open(f"{d}/config.json"))
    return {k: c.get(k) for k in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                  "num_key_value_heads", "intermediate_size", "vocab_size")}
p = bridge.get("sender", {}).get("perceiver", {})
print(json.dumps({"sender": dict(model("demo/models/sender-llama"), dir="demo/models/sender-llama"),
                  "receiver": dict(model("demo/models/receiver-qwen2"), dir="demo/models/receiver-qwen2"),
                  "bridge": {"name": bridge["name"], "soft_tokens": p.get("num_queries"), "d_z": p.get("output_width"),
                             "source_layer": bridge.get("sender", {}).get("source_layer")},
                  "wire_dtype": "fp16"}))
PYEOF
)
echo "== lipctl bench run: latent, text_relay ($TOKENS tokens), direct_text; ${DURATION} s per level; load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
"$LIPCTL" bench run --sender "127.0.0.1:$PORT_sender" --receiver "127.0.0.1:$PORT_receiver" \
  --cert "$work/certs/sender.crt" --key "$work/certs/sender.key" --ca "$work/certs/ca.crt" \
  --paths latent,text_relay,direct_text --messages demo/messages.jsonl --task "$TASK" \
  --bridge-json "$BRIDGE/bridge.json" --max-concurrency "$MAX_C" --rate-fractions "$FRACTIONS" \
  --duration-s "$DURATION" --min-messages "$MIN_MESSAGES" --generate-tokens "$TOKENS" \
  --device "$device" --models "demo: sender-llama -> receiver-qwen2, bridge $bridge_name" --model-shapes "$shapes" \
  --json "$OUT/summary.json" --csv "$OUT/load_test.csv" || rc=$?
# Where it ran: the machine and what else was running (the CPU may be shared).
$PY - "$OUT/summary.json" <<'PYEOF'
import json, os, subprocess, sys
path = sys.argv[1]
s = json.load(open(path))
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
s["host"] = {"cpus": os.cpu_count(), "load_average_1m_5m_15m_end": open("/proc/loadavg").read().split()[:3],
             "git_commit": commit}
json.dump(s, open(path, "w"), indent=2)
open(path, "a").write("\n")
PYEOF
if $PY -c 'import matplotlib' 2>/dev/null; then
  $PY benchmarks/plot_load_test.py "$OUT/summary.json" "$OUT/latency_vs_throughput.png"
else
  echo "load_test: python3-matplotlib is missing (bash deploy/setup.sh installs it); no plot" >&2
fi
$PY - "$OUT/summary.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("\n== summary (%s; load average %s -> %s)" % (s["device"], s["load_average_1m_start"], s["load_average_1m_end"]))
for name, p in s["paths"].items():
    print(f"  {name:<11} saturation {p['saturation_throughput_msg_s']:8.2f} msg/s (c={p['saturation_concurrency']})"
          f"  p50@c1 {p['p50_ms_c1'] or 0:8.1f} ms  p99@c1 {p['p99_ms_c1'] or 0:8.1f} ms  {p['bytes_per_message']:7.0f} B"
          f"  accuracy {p['accuracy']}  sent {p['sent']} answers {p['answered_by_status']}")
for k, v in s["speedups"].items():
    print(f"  {k}: {v}x")
PYEOF

echo "== stop the nodes (graceful)"
failed=0
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid"; done
  for pid in "$@"; do wait "$pid" || { echo "load_test: a node did not exit cleanly" >&2; failed=1; }; done
}
stop_pids "${pids[2]}" "${pids[1]}"  # sender and receiver leave the registry, drain, exit 0
stop_pids "${pids[0]}"               # then the registry
pids=()
echo "  results in $OUT/"
[ $failed = 0 ] || exit 1
exit $rc
