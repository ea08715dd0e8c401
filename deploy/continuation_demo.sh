#!/usr/bin/env bash
# Generation over the wire with the nodes: a registry on 127.0.0.1 (fresh certificates, mutual TLS),
# one continuation bridge (lip-train --method=continuation) published to it, a receiver and a sender
# that fetch it, then the first words of held-out passages sent through the sender as Task.generate
# (`lipctl node send PREFIX --max-new-tokens N`): the sender encodes the prefix into soft tokens, the
# receiver continues it greedily. Prints each prefix, the receiver's continuation and the true one.
#
#   bash deploy/continuation_demo.sh BRIDGE_DIR [TEXT_FILE]
#
# TEXT_FILE (plain text or .xz, one paragraph a line; default
# ../shared/corpora/wikitext-103.valid.tokens.txt.xz) is cut as lip-eval continuation cuts it (the
# bridge's prefix_words). LIP_DEMO_MESSAGES (default 4) passages, LIP_DEMO_NEW_TOKENS (default 24)
# tokens each. Fails loudly when a node does not come up or a message fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
BRIDGE_DIR=${1:?usage: bash deploy/continuation_demo.sh BRIDGE_DIR [TEXT_FILE]}
TEXT_FILE=${2:-../shared/corpora/wikitext-103.valid.tokens.txt.xz}
MESSAGES=${LIP_DEMO_MESSAGES:-4}
NEW_TOKENS=${LIP_DEMO_NEW_TOKENS:-24}
PY=/usr/bin/python3
if [ ! -f "$BRIDGE_DIR/bridge.json" ]; then
  echo "continuation_demo: no bridge checkpoint at $BRIDGE_DIR" >&2; exit 1
fi
if [ ! -f "$TEXT_FILE" ]; then
  echo "continuation_demo: $TEXT_FILE is missing (../shared/corpora is not shipped); pass a text file" >&2; exit 1
fi
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh > /dev/null

work=$(mktemp -d)
WORK=$work
source benchmarks/lib/nodes.sh
trap 'nodes_stop_all; rm -rf "$work"' EXIT
nodes_certs receiver
B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
ADMIN="--cert $work/certs/admin.crt --key $work/certs/admin.key --ca $work/certs/ca.crt"
name=$(nodes_bridge_field "$BRIDGE_DIR" name)
echo "== registry; publish $name"
nodes_start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(nodes_tls registry)
"$LIPCTL" registry upload "$BRIDGE_DIR" --registry "127.0.0.1:$PORT_registry" $ADMIN > /dev/null
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --torch_threads=${LIP_TORCH_THREADS:-1}"
echo "== receiver and sender fetch $name from the registry"
nodes_start receiver "$B/lip-receiver" $common --node_id=receiver-continuation --data_dir="$work/receiver" \
  --model_dir=demo/models/receiver-qwen2 --bridge="$name" $(nodes_tls receiver)
nodes_start sender "$B/lip-sender" $common --node_id=sender-continuation --data_dir="$work/sender" \
  --model_dir=demo/models/sender-llama --bridge="$name" $(nodes_tls sender)
echo "== $MESSAGES held-out passages: the sender reads the prefix, the receiver continues it ($NEW_TOKENS tokens)"
$PY - "$LIPCTL" "127.0.0.1:$PORT_sender" "$work" "$BRIDGE_DIR/bridge.json" "$TEXT_FILE" "$MESSAGES" "$NEW_TOKENS" <<'PYEOF'
import json, lzma, subprocess, sys
lipctl, sender, work, bridge_json, text_file, count, new_tokens = sys.argv[1:8]
training = json.load(open(bridge_json))["training"]
prefix_words, min_rest = int(training["prefix_words"]), int(training["min_continuation_words"])
opener = lzma.open if text_file.endswith(".xz") else open
passages = []
with opener(text_file, "rt", encoding="utf-8") as f:
    for line in f:  # the cut of bridge/train/passage_corpus.h
        for joined, plain in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", ".")):
            line = line.replace(joined, plain)
        words = line.split()
        if not words or words[0].startswith("=") or len(words) < prefix_words + min_rest:
            continue
        passages.append((" ".join(words[:prefix_words]), " ".join(words[prefix_words:prefix_words + 20])))
        if len(passages) == int(count):
            break
tls = ["--cert", f"{work}/certs/admin.crt", "--key", f"{work}/certs/admin.key", "--ca", f"{work}/certs/ca.crt"]
for i, (prefix, truth) in enumerate(passages, 1):
    out = subprocess.run([lipctl, "node", "send", prefix, "--sender", sender, "--max-new-tokens", new_tokens] + tls,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"continuation_demo: lipctl node send failed: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    generated = r["answer"]["generation"]["text"]
    print(f"[{i}] prefix   : {prefix}")
    print(f"    receiver : {generated!r}  ({r['answer']['generation'].get('stop_reason', '')}, "
          f"{r['wire_bytes']} wire bytes, {float(r['timings']['total_ms']):.0f} ms)")
    print(f"    true     : {truth} ...")
PYEOF
nodes_stop_graceful "$PID_sender" "$PID_receiver" "$PID_registry"
echo "== every node stopped cleanly"
