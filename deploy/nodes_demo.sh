#!/usr/bin/env bash
# The nodes demo: a registry on 127.0.0.1 with freshly made certificates (mutual TLS), every shipped
# demo bridge published to it, and for each bridge a receiver and a sender that fetch it from the
# registry, then that task's real test messages from demo/messages.jsonl sent through the sender.
# Prints, per message, the receiver's answer, whether it is right, the latency, and the bytes on the
# wire next to what text relay needed; stops every node cleanly (graceful drain, exit 0) at the end.
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
PY=/usr/bin/python3

for dir in "${BRIDGE_DIRS[@]}"; do
  if [ ! -f "$dir/bridge.json" ]; then
    echo "nodes_demo: no bridge checkpoint at $dir (bridge.json missing); train or ship one first" >&2
    exit 1
  fi
done
if [ ! -f "$BUILD_DIR/build.ninja" ]; then cmake -S . -B "$BUILD_DIR" -G Ninja; fi
cmake --build "$BUILD_DIR" --target lip-registry lip-receiver lip-sender lipctl -j "${LIP_JOBS:-$(nproc)}"

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
      echo "nodes_demo: $name exited during startup:" >&2; tail -5 "$work/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "nodes_demo: $name did not start within 60 s" >&2; tail -5 "$work/$name.log" >&2; exit 1
}

B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
ADMIN="--cert $work/certs/admin.crt --key $work/certs/admin.key --ca $work/certs/ca.crt"
echo "== 1. registry; publish ${#BRIDGE_DIRS[@]} bridge(s)"
start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(tls registry)
registry_pid=${pids[-1]}
for dir in "${BRIDGE_DIRS[@]}"; do
  "$LIPCTL" registry upload "$dir" --registry "127.0.0.1:$PORT_registry" $ADMIN > "$work/upload.json"
  $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  published %s v%s %s" % (r["id"]["name"], r["id"]["version"], r["id"]["digest"][:23]))' "$work/upload.json"
done

# Stops the given node pids gracefully (SIGTERM: drain, then exit 0) and forgets them.
stop_nodes() {
  local pid failed=0
  for pid in "$@"; do kill -TERM "$pid"; done
  for pid in "$@"; do
    if ! wait "$pid"; then echo "nodes_demo: a node did not exit cleanly" >&2; failed=1; fi
  done
  local left=() p stopped
  for p in "${pids[@]}"; do  # forget exactly these pids (the EXIT trap must not signal reused ones)
    stopped=0
    for pid in "$@"; do [ "$p" = "$pid" ] && stopped=1; done
    [ $stopped = 1 ] || left+=("$p")
  done
  pids=("${left[@]}")
  return $failed
}

step=2
for dir in "${BRIDGE_DIRS[@]}"; do
  bridge_name=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$dir/bridge.json")
  task=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("task",""))' "$dir/bridge.json")
  echo "== $step. $bridge_name (task $task): receiver and sender fetch it from the registry and register"
  common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry"
  start receiver "$B/lip-receiver" $common --node_id="receiver-$task" --data_dir="$work/receiver-$task" \
    --model_dir=demo/models/receiver-qwen2 --bridge="$bridge_name" $(tls receiver)
  receiver_pid=${pids[-1]}
  start sender "$B/lip-sender" $common --node_id="sender-$task" --data_dir="$work/sender-$task" \
    --model_dir=demo/models/sender-llama --bridge="$bridge_name" --link_report_ms=500 $(tls sender)
  sender_pid=${pids[-1]} sender_port=$PORT_sender
  echo "   up to $MESSAGES messages of task $task from demo/messages.jsonl through the sender"
  $PY - "$LIPCTL" "127.0.0.1:$sender_port" "$task" "$MESSAGES" "$work" "$dir/bridge.json" <<'PYEOF'
import json, subprocess, sys
lipctl, sender, task, count, work, bridge_json = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
tls = ["--cert", f"{work}/certs/admin.crt", "--key", f"{work}/certs/admin.key", "--ca", f"{work}/certs/ca.crt"]
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
def call(kind, text):
    out = subprocess.run([lipctl, "node", kind, text, "--sender", sender] + tls,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"nodes_demo: lipctl node {kind} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)
print(f"{'#':>3} {'answer':<12} {'gold':<12} ok  {'latent ms':>9} {'wire B':>7}   {'relay ms':>8} {'text B':>6}  text")
right = relay_right = latent_bytes = text_bytes = 0
latent_ms = relay_ms = 0.0
for i, row in enumerate(rows):
    s = call("send", row["text"])
    r = call("relay", row["text"])
    answer = s["answer"]["classification"]["label"].strip()
    ok = right_answer(s["answer"]["classification"], row["label"])
    right += ok; relay_right += right_answer(r["answer"]["classification"], row["label"])
    wire, relay_wire = int(s["wire_bytes"]), int(r["wire_bytes"])
    latent_bytes += wire; text_bytes += relay_wire
    lt, rt = s["timings"]["total_ms"], r["timings"]["total_ms"]
    latent_ms += lt; relay_ms += rt
    print(f"{i+1:>3} {answer:<12} {row['label']:<12} {'yes' if ok else 'NO ':<3} {lt:>9.1f} {wire:>7}   {rt:>8.1f} {relay_wire:>6}  {row['text'][:48]}")
n = len(rows)
with open(f"{work}/summary.txt", "a") as f:
    f.write(f"{task:<8} {n:>3} messages  latent {right:>2}/{n} right, {latent_ms/n:6.1f} ms, {latent_bytes/n:5.0f} B   "
            f"text relay {relay_right:>2}/{n} right, {relay_ms/n:6.1f} ms, {text_bytes/n:4.0f} B\n")
print(f"\nlatent: {right}/{n} right ({100*right/n:.1f}%), mean {latent_ms/n:.1f} ms, {latent_bytes/n:.0f} wire bytes/message")
print(f"relay : {relay_right}/{n} right ({100*relay_right/n:.1f}%), mean {relay_ms/n:.1f} ms, {text_bytes/n:.0f} wire bytes/message")
PYEOF
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
