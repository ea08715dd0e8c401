#!/usr/bin/env bash
# The nodes demo: a registry on 127.0.0.1 with freshly made certificates (mutual TLS), every shipped
# demo bridge published to it, and for each bridge a receiver and a sender that fetch it from the
# registry, then that task's real test messages from demo/messages.jsonl sent through the sender.
# Every message goes three ways: latent (soft tokens in a LIP packet), text relay (the sender writes a
# message about the text, at most LIP_DEMO_RELAY_TOKENS = 32 tokens, and the receiver reads it) and
# direct text (the receiver reads the original text). Prints, per message and per task, the answers,
# whether they are right, the latency and the bytes to the receiver, the speed-up of latent over text
# relay, then a short throughput run of every path (lipctl bench run, LIP_DEMO_BENCH_SECONDS = 3 s per
# level, 0 = none); stops every node cleanly (graceful drain, exit 0) at the end.
#
#   bash deploy/nodes_demo.sh [BRIDGE_DIR ...]   (default: $LIP_DEMO_BRIDGE, else every demo/bridges/demo-*)
#
# LIP_DEMO_MESSAGES (default 24) caps the messages per task. Fails loudly: any node that does not come
# up, any failed message, or a node that does not stop cleanly makes the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
if [ $# -gt 0 ]; then BRIDGE_DIRS=("$@"); elif [ -n "${LIP_DEMO_BRIDGE:-}" ]; then BRIDGE_DIRS=("$LIP_DEMO_BRIDGE");
else BRIDGE_DIRS=(demo/bridges/demo-*); fi
MESSAGES=${LIP_DEMO_MESSAGES:-24}
RELAY_TOKENS=${LIP_DEMO_RELAY_TOKENS:-32}
BENCH_SECONDS=${LIP_DEMO_BENCH_SECONDS:-3}
PY=/usr/bin/python3

for dir in "${BRIDGE_DIRS[@]}"; do
  if [ ! -f "$dir/bridge.json" ]; then
    echo "nodes_demo: no bridge checkpoint at $dir (bridge.json missing); train or ship one first" >&2
    exit 1
  fi
done
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh

work=$(mktemp -d)
WORK=$work
source benchmarks/lib/nodes.sh  # nodes_start, nodes_tls, nodes_stop_graceful, nodes_stop_all
trap 'nodes_stop_all; rm -rf "$work"' EXIT
nodes_certs receiver
start() { nodes_start "$@" 2>&1; }
tls() { nodes_tls "$@"; }

B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
ADMIN="--cert $work/certs/admin.crt --key $work/certs/admin.key --ca $work/certs/ca.crt"
echo "== 1. registry; publish ${#BRIDGE_DIRS[@]} bridge(s)"
start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(tls registry)
registry_pid=$PID_registry
for dir in "${BRIDGE_DIRS[@]}"; do
  "$LIPCTL" registry upload "$dir" --registry "127.0.0.1:$PORT_registry" $ADMIN > "$work/upload.json"
  $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  published %s v%s %s" % (r["id"]["name"], r["id"]["version"], r["id"]["digest"][:23]))' "$work/upload.json"
done

stop_nodes() { nodes_stop_graceful "$@"; }

step=2
for dir in "${BRIDGE_DIRS[@]}"; do
  bridge_name=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$dir/bridge.json")
  task=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("task",""))' "$dir/bridge.json")
  echo "== $step. $bridge_name (task $task): receiver and sender fetch it from the registry and register"
  # The receiver and the sender share this machine's cores: one LibTorch thread each, or they
  # oversubscribe them (measured: benchmarks/README.md).
  common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --torch_threads=${LIP_TORCH_THREADS:-1}"
  start receiver "$B/lip-receiver" $common --node_id="receiver-$task" --data_dir="$work/receiver-$task" \
    --model_dir=demo/models/receiver-qwen2 --bridge="$bridge_name" $(tls receiver)
  receiver_pid=$PID_receiver
  start sender "$B/lip-sender" $common --node_id="sender-$task" --data_dir="$work/sender-$task" \
    --model_dir=demo/models/sender-llama --bridge="$bridge_name" --link_report_ms=500 $(tls sender)
  sender_pid=$PID_sender sender_port=$PORT_sender
  echo "   up to $MESSAGES messages of task $task from demo/messages.jsonl, each on three paths:"
  echo "     latent      the sender encodes the text into soft tokens and ships a LIP packet (lipctl node send)"
  echo "     text relay  the sender WRITES a message about the text, at most $RELAY_TOKENS tokens, and the receiver"
  echo "                 reads what it wrote (lipctl node relay; frame in docs/nodes.md)"
  echo "     direct text the receiver reads the original text itself, nothing generated (lipctl node send-text)"
  $PY - "$LIPCTL" "127.0.0.1:$sender_port" "127.0.0.1:$PORT_receiver" "$task" "$MESSAGES" "$work" "$dir/bridge.json" "$RELAY_TOKENS" <<'PYEOF'
import json, subprocess, sys
lipctl, sender, receiver, task, count, work, bridge_json, relay_tokens = sys.argv[1:9]
count, relay_tokens = int(count), int(relay_tokens)
def tls(identity):
    return ["--cert", f"{work}/certs/{identity}.crt", "--key", f"{work}/certs/{identity}.key", "--ca", f"{work}/certs/ca.crt"]
rows = [json.loads(l) for l in open("demo/messages.jsonl") if l.strip()]
rows = [r for r in rows if not task or r["task"] == task][:count]
if not rows:
    sys.exit(f"nodes_demo: no messages for task {task!r} in demo/messages.jsonl")
# The bridge answers with its verbalizers; its training label names give the index of the gold label.
classes = json.load(open(bridge_json)).get("training", {}).get("label_names", [])
def right_answer(classification, gold):
    if gold in classes:
        return int(classification.get("label_index", 0)) == classes.index(gold)
    return classification["label"].strip().lower() == gold.strip().lower()
def call(args):
    out = subprocess.run([lipctl, "node"] + args, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"nodes_demo: lipctl node {args[0]} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)
# Latency: what the serving node measured from request to answer (sender total for latent and text
# relay: encode or generation + wire + receiver; receiver total for direct text).
paths = {
    "latent": lambda text: call(["send", text, "--sender", sender] + tls("admin")),
    "text relay": lambda text: call(["relay", text, "--sender", sender, "--generate-tokens", str(relay_tokens)] + tls("admin")),
    "direct text": lambda text: call(["send-text", text, "--receiver", receiver] + tls("sender")),
}
totals = {name: {"right": 0, "ms": 0.0, "bytes": 0} for name in paths}
print(f"{'#':>3} {'gold':<9}|{'latent':>10} {'ms':>6} {'B':>5} |{'text relay':>10} {'ms':>6} {'B':>4} |{'direct text':>11} {'ms':>6} {'B':>4} | text")
for i, row in enumerate(rows):
    cells = []
    relayed = ""
    for name, run in paths.items():
        r = run(row["text"])
        answer = r["answer"] if "answer" in r else r
        ok = right_answer(answer["classification"], row["label"])
        ms = float(r["timings"]["total_ms"])
        wire = int(r.get("wire_bytes", len(row["text"].encode())))
        if name == "text relay":
            relayed = r.get("relayed_text", "")
        t = totals[name]
        t["right"] += ok; t["ms"] += ms; t["bytes"] += wire
        label = answer["classification"]["label"].strip()[:8]
        cells.append((label + (" +" if ok else " -"), ms, wire))
    (la, lm, lb), (ra, rm, rb), (da, dm, db) = cells
    print(f"{i+1:>3} {row['label'][:9]:<9}|{la:>10} {lm:>6.1f} {lb:>5} |{ra:>10} {rm:>6.1f} {rb:>4} |{da:>11} {dm:>6.1f} {db:>4} | {row['text'][:40]}")
    print(f"{'':>13}sender wrote: {json.dumps(relayed)[:96]}")
n = len(rows)
print("\n(+ right, - wrong; ms = serving node's latency; B = bytes to the receiver: packet, written text, original text)")
for name, t in totals.items():
    print(f"{name:<11}: {t['right']:>2}/{n} right ({100*t['right']/n:5.1f} %), mean {t['ms']/n:7.1f} ms, {t['bytes']/n:6.0f} B/message")
speedup = totals["text relay"]["ms"] / max(totals["latent"]["ms"], 1e-9)
print(f"latent is {speedup:.1f}x faster per message than text relay ({relay_tokens} tokens)")
with open(f"{work}/summary.txt", "a") as f:
    f.write(f"{task:<8} {n:>3} messages | " + " | ".join(
        f"{name} {t['right']:>2}/{n} right {t['ms']/n:6.1f} ms {t['bytes']/n:5.0f} B" for name, t in totals.items())
        + f" | latent {speedup:.1f}x faster than text relay\n")
PYEOF
  if [ "$dir" = "${BRIDGE_DIRS[-1]}" ] && [ "$BENCH_SECONDS" != 0 ]; then
    echo "   throughput: lipctl bench run, ${BENCH_SECONDS} s per path and level (closed loop, 1 and 4 in flight)"
    "$LIPCTL" bench run --sender "127.0.0.1:$sender_port" --receiver "127.0.0.1:$PORT_receiver" \
      --cert "$work/certs/sender.crt" --key "$work/certs/sender.key" --ca "$work/certs/ca.crt" \
      --task "$task" --bridge-json "$dir/bridge.json" --concurrency 1,4 --duration-s "$BENCH_SECONDS" \
      --generate-tokens "$RELAY_TOKENS" --device "$(nproc)-core CPU" --models "demo sender-llama -> receiver-qwen2" \
      --json "$work/bench.json" || { echo "nodes_demo: the throughput run failed" >&2; exit 1; }
    $PY - "$work/bench.json" "$task" >> "$work/summary.txt" <<'PYEOF'
import json, sys
b = json.load(open(sys.argv[1]))
print(f"\nthroughput ({sys.argv[2]}, closed loop, saturation over 1 and 4 in flight):")
for name, p in b["paths"].items():
    print(f"  {name:<11} {p['saturation_throughput_msg_s']:7.1f} msg/s   p50 at 1 in flight {p['p50_ms_c1']:7.1f} ms   answers {p['answered_by_status']}")
s = b["speedups"]
if "latent_over_text_relay_throughput" in s:
    print(f"  latent over text relay: {s['latent_over_text_relay_throughput']:.1f}x the throughput, "
          f"{s.get('text_relay_over_latent_p50_c1', 0):.1f}x lower p50")
PYEOF
  fi
  sleep 1  # one more link report
  stop_nodes "$sender_pid" "$receiver_pid" || exit 1
  echo "   receiver-$task and sender-$task stopped cleanly"
  step=$((step + 1))
done

echo "== $step. what the registry saw"
"$LIPCTL" registry nodes --registry "127.0.0.1:$PORT_registry" $ADMIN | $PY -c '
import json,sys
for n in json.load(sys.stdin).get("nodes", []):
    print("  %-16s %-18s %-16s alive=%s" % (n["node_id"], n["role"], n["address"], n.get("alive", False)))'
"$LIPCTL" registry links --registry "127.0.0.1:$PORT_registry" $ADMIN | $PY -c '
import json,sys
for l in json.load(sys.stdin).get("links", []):
    m = int(l.get("messages", 0))
    print("  link %s -> %s: %d messages, %s bytes, mean %.1f ms" % (l["from_node"], l["to_node"], m, l.get("bytes", 0), l.get("latency_ms_sum", 0) / max(m, 1)))'
echo
echo "== summary"
cat "$work/summary.txt"
echo
echo "== $((step + 1)). stop the registry (graceful)"
stop_nodes "$registry_pid" || exit 1
echo "  all nodes stopped cleanly"
