#!/usr/bin/env bash
# One encoder, many receivers, over the nodes: a registry on 127.0.0.1 (fresh certificates, mutual
# TLS) with two bridges that share one sender half (lip-train --method=joint_receivers) published, one
# receiver per bridge (each fetches its own from the registry, on its own model), and a sender that
# fetches the first as its bridge and the second as a fan-out bridge (--fanout_bridges). Every test
# message goes through `lipctl node fanout`: the sender encodes it once and sends each receiver its
# packet; the answers and the joint answer (protocol.md §13) are scored against the labels.
#
#   bash deploy/fanout_demo.sh BRIDGE_DIR_A BRIDGE_DIR_B [TEST_JSONL]
#
# TEST_JSONL (default ../shared/data/<task>/test.jsonl of bridge A) holds {"text", "label"} rows with
# the bridges' label names; LIP_DEMO_MESSAGES (default 24, 0 = all) rows of it are sent, the first
# ones. LIP_DEMO_RESULT=FILE writes the counts as JSON. Fails loudly when a node does not come up.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
BRIDGE_A=${1:?usage: bash deploy/fanout_demo.sh BRIDGE_DIR_A BRIDGE_DIR_B [TEST_JSONL]}
BRIDGE_B=${2:?usage: bash deploy/fanout_demo.sh BRIDGE_DIR_A BRIDGE_DIR_B [TEST_JSONL]}
PY=/usr/bin/python3
for dir in "$BRIDGE_A" "$BRIDGE_B"; do
  [ -f "$dir/bridge.json" ] || { echo "fanout_demo: no bridge checkpoint at $dir" >&2; exit 1; }
done
training_field() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]+"/bridge.json"))["training"][sys.argv[2]])' "$1" "$2"; }
TEST_FILE=${3:-../shared/data/$(training_field "$BRIDGE_A" task)/test.jsonl}
[ -f "$TEST_FILE" ] || { echo "fanout_demo: $TEST_FILE is missing (../shared is not shipped); pass a JSONL" >&2; exit 1; }
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh > /dev/null

work=$(mktemp -d)
WORK=$work
source benchmarks/lib/nodes.sh
trap 'nodes_stop_all; rm -rf "$work"' EXIT
nodes_certs receiver-a:receiver receiver-b:receiver
B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
ADMIN="--cert $work/certs/admin.crt --key $work/certs/admin.key --ca $work/certs/ca.crt"
name_a=$(nodes_bridge_field "$BRIDGE_A" name)
name_b=$(nodes_bridge_field "$BRIDGE_B" name)
echo "== registry; publish $name_a and $name_b"
nodes_start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(nodes_tls registry)
for dir in "$BRIDGE_A" "$BRIDGE_B"; do
  "$LIPCTL" registry upload "$dir" --registry "127.0.0.1:$PORT_registry" $ADMIN > /dev/null
done
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --torch_threads=${LIP_TORCH_THREADS:-1}"
echo "== a receiver per bridge, on its own model; a sender with $name_a and the fan-out bridge $name_b"
nodes_start receiver_a "$B/lip-receiver" $common --node_id=receiver-a --data_dir="$work/receiver-a" \
  --model_dir="$(training_field "$BRIDGE_A" receiver_model_dir)" --bridge="$name_a" $(nodes_tls receiver-a)
nodes_start receiver_b "$B/lip-receiver" $common --node_id=receiver-b --data_dir="$work/receiver-b" \
  --model_dir="$(training_field "$BRIDGE_B" receiver_model_dir)" --bridge="$name_b" $(nodes_tls receiver-b)
nodes_start sender "$B/lip-sender" $common --node_id=sender-fanout --data_dir="$work/sender" \
  --model_dir="$(training_field "$BRIDGE_A" sender_model_dir)" --bridge="$name_a" --fanout_bridges="$name_b" \
  $(nodes_tls sender)
echo "== test messages from $TEST_FILE, each encoded once and sent to both receivers"
$PY - "$LIPCTL" "127.0.0.1:$PORT_sender" "$work" "$BRIDGE_A" "$BRIDGE_B" "$TEST_FILE" "${LIP_DEMO_MESSAGES:-24}" \
  "${LIP_DEMO_RESULT:-}" <<'PYEOF'
import json, subprocess, sys
lipctl, sender, work, bridge_a, bridge_b, test_file, count, result_file = sys.argv[1:9]
bridges = [json.load(open(d + "/bridge.json")) for d in (bridge_a, bridge_b)]
label_names = bridges[0]["training"]["label_names"]
models = [b["receiver_model"]["name"] for b in bridges]
rows = [json.loads(line) for line in open(test_file, encoding="utf-8") if line.strip()]
if int(count) > 0:
    rows = rows[:int(count)]
tls = ["--cert", f"{work}/certs/admin.crt", "--key", f"{work}/certs/admin.key", "--ca", f"{work}/certs/ca.crt"]
correct = {"joint": 0, models[0]: 0, models[1]: 0}
errors = 0
for i, row in enumerate(rows, 1):
    out = subprocess.run([lipctl, "node", "fanout", row["text"], "--sender", sender,
                          "--receiver-models", ",".join(models)] + tls, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"fanout_demo: lipctl node fanout failed: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    gold = label_names.index(row["label"])
    answers = []
    for model, outcome in zip(models, r["outcomes"]):
        if "error" in outcome:
            errors += 1
            answers.append(f"{model}: ERROR {outcome['error'].get('message', '')}")
            continue
        index = int(outcome["answer"]["classification"].get("label_index", 0))
        correct[model] += index == gold
        answers.append(f"{model.split('/')[-1]}: {label_names[index]}")
    joint = int(r["joint"].get("label_index", 0))
    correct["joint"] += joint == gold
    if i <= 12:
        print(f"[{i}] {row['text'][:60]!r}  gold {row['label']}  " + "  ".join(answers) +
              f"  joint: {label_names[joint]}  (encode {float(r.get('encode_ms', 0)):.1f} ms, "
              f"total {float(r.get('total_ms', 0)):.1f} ms)")
n = len(rows)
summary = {"messages": n, "receiver_errors": errors, "test_file": test_file,
           "bridges": [b["name"] for b in bridges],
           "accuracy": {k: v / n for k, v in correct.items()}}
for k, v in correct.items():
    print(f"{k:28s} {v}/{n} = {100 * v / n:.1f} %")
if result_file:
    with open(result_file, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
PYEOF
nodes_stop_graceful "$PID_sender" "$PID_receiver_a" "$PID_receiver_b" "$PID_registry"
echo "== every node stopped cleanly"
