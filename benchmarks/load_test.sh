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
# LIP_SENDER_FLAGS adds flags to lip-sender (e.g. "--max_batch_size=1" turns its batching off, for an A/B).
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
if [ ! -f "$BRIDGE/bridge.json" ]; then echo "load_test: no bridge checkpoint at $BRIDGE" >&2; exit 1; fi
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh
mkdir -p "$OUT"

WORK=$(mktemp -d)
source benchmarks/lib/nodes.sh
trap 'nodes_stop_all; rm -rf "$WORK"' EXIT
nodes_certs receiver

B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
bridge_name=$(nodes_bridge_field "$BRIDGE" name)
[ -n "$TASK" ] || TASK=$(nodes_bridge_field "$BRIDGE" task)
echo "== nodes: registry, receiver and sender for $bridge_name on 127.0.0.1 (mTLS)"
nodes_start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$WORK/registry" $(nodes_tls registry)
"$LIPCTL" registry upload "$BRIDGE" --registry "127.0.0.1:$PORT_registry" \
  --cert "$WORK/certs/admin.crt" --key "$WORK/certs/admin.key" --ca "$WORK/certs/ca.crt" > /dev/null
# The receiver and the sender share this machine's cores: one LibTorch thread each, or they
# oversubscribe them (measured: benchmarks/README.md).
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --torch_threads=${LIP_TORCH_THREADS:-1}"
nodes_start receiver "$B/lip-receiver" $common --node_id=receiver-load --data_dir="$WORK/receiver" \
  --model_dir=demo/models/receiver-qwen2 --bridge="$bridge_name" $(nodes_tls receiver)
nodes_start sender "$B/lip-sender" $common --node_id=sender-load --data_dir="$WORK/sender" \
  --model_dir=demo/models/sender-llama --bridge="$bridge_name" $(nodes_tls sender) ${LIP_SENDER_FLAGS:-}

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
  --cert "$WORK/certs/sender.crt" --key "$WORK/certs/sender.key" --ca "$WORK/certs/ca.crt" \
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
nodes_stop_graceful "$PID_sender" "$PID_receiver" || failed=1  # leave the registry, drain, exit 0
nodes_stop_graceful "$PID_registry" || failed=1                # then the registry
echo "  results in $OUT/"
[ $failed = 0 ] || exit 1
exit $rc
