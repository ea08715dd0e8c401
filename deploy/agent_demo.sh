#!/usr/bin/env bash
# The Python client against the main demo's nodes: builds LIP, installs client/python into a fresh
# virtual environment (system site packages for Debian's grpcio/protobuf; offline, no package index),
# starts a registry, a receiver and a sender on 127.0.0.1 as deploy/nodes_demo.sh does (fresh mTLS
# certificates, demo model pair, the shipped demo-sst2 bridge published through the registry), runs
# client/python/examples/agent_loop.py against them (through the sender, then --direct), and stops the
# nodes cleanly.
#
#   bash deploy/agent_demo.sh [BRIDGE_DIR]   (default demo/bridges/demo-sst2; LIP_VENV keeps the venv there)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
BRIDGE_DIR=${1:-demo/bridges/demo-sst2}
PY=/usr/bin/python3
[ -f "$BRIDGE_DIR/bridge.json" ] || { echo "agent_demo: no bridge checkpoint at $BRIDGE_DIR" >&2; exit 1; }

LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh > /dev/null
work=$(mktemp -d)
WORK=$work
source benchmarks/lib/nodes.sh  # nodes_start, nodes_tls, nodes_stop_graceful, nodes_stop_all
trap 'nodes_stop_all; rm -rf "$work"' EXIT

VENV=${LIP_VENV:-$work/venv}
echo "== 1. pip install ./client/python into $VENV (offline)"
[ -x "$VENV/bin/python" ] || $PY -m venv --system-site-packages "$VENV"
cp -r client/python "$work/client-python"  # pip builds in tree: keep the checkout clean
"$VENV/bin/pip" install --quiet --no-index --no-build-isolation --disable-pip-version-check "$work/client-python"
"$VENV/bin/python" -c 'import lip; print("  lip", lip.__version__, "from", lip.__file__)'

nodes_certs receiver 2> /dev/null
start() { nodes_start "$@" 2> /dev/null; }
tls() { nodes_tls "$@"; }

B="$BUILD_DIR/server"
bridge=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$BRIDGE_DIR/bridge.json")
echo "== 2. registry, receiver and sender on 127.0.0.1 serving $bridge"
start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(tls registry)
"$BUILD_DIR/client/lipctl" registry upload "$BRIDGE_DIR" --registry "127.0.0.1:$PORT_registry" \
  --cert "$work/certs/admin.crt" --key "$work/certs/admin.key" --ca "$work/certs/ca.crt" > /dev/null
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --bridge=$bridge"
start receiver "$B/lip-receiver" $common --node_id=receiver-1 --data_dir="$work/receiver" \
  --model_dir=demo/models/receiver-qwen2 $(tls receiver)
start sender "$B/lip-sender" $common --node_id=sender-1 --data_dir="$work/sender" \
  --model_dir=demo/models/sender-llama $(tls sender)
echo "  registry :$PORT_registry  receiver :$PORT_receiver  sender :$PORT_sender"

echo "== 3. agent loop through the sender"
"$VENV/bin/python" client/python/examples/agent_loop.py --registry "127.0.0.1:$PORT_registry" \
  --certs "$work/certs" --bridge "$bridge"
echo "== 4. agent loop, packets streamed straight to the receiver (--direct)"
"$VENV/bin/python" client/python/examples/agent_loop.py --registry "127.0.0.1:$PORT_registry" \
  --certs "$work/certs" --bridge "$bridge" --direct --want 2

failed=0
nodes_stop_graceful "$PID_sender" "$PID_receiver" "$PID_registry" || failed=1
[ $failed = 0 ] && echo "== nodes stopped cleanly"
exit $failed
