#!/usr/bin/env bash
# Soak: open-loop overload of the demo receiver (docs/reliability.md §Soak).
#
#   bash benchmarks/soak.sh [--duration_s 600] [--load_factor 2] [--bridge demo/bridges/demo-sst2]
#                           [--deadline_ms 5000] [--out FILE]
#
# Starts a registry, publishes the bridge, starts one receiver and one sender on 127.0.0.1 over
# mutual TLS (as deploy/nodes_demo.sh), makes packets once through the sender, measures the
# receiver's saturation throughput (closed loop, 15 s), then sends SendLatent straight to the
# receiver at --load_factor x that rate for --duration_s seconds (lip_load_driver), sampling the
# receiver's RSS every 5 s. Passes when every request was answered, each OK, RESOURCE_EXHAUSTED or
# DEADLINE_EXCEEDED, the receiver is still serving afterwards and stops cleanly. Writes one JSON
# report (driver figures + RSS series) to --out (default: stdout only).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
DURATION=600 FACTOR=2 BRIDGE=demo/bridges/demo-sst2 DEADLINE=5000 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration_s) DURATION=$2; shift 2 ;;
    --load_factor) FACTOR=$2; shift 2 ;;
    --bridge) BRIDGE=$2; shift 2 ;;
    --deadline_ms) DEADLINE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$BRIDGE/bridge.json" ] || { echo "soak: no bridge checkpoint at $BRIDGE" >&2; exit 1; }
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl lip_load_driver" bash deploy/build.sh > /dev/null

WORK=$(mktemp -d)
source benchmarks/lib/nodes.sh
trap 'nodes_stop_all; rm -rf "$WORK"' EXIT
nodes_certs receiver
B="$BUILD_DIR/server"
ADMIN="--cert $WORK/certs/admin.crt --key $WORK/certs/admin.key --ca $WORK/certs/ca.crt"
nodes_start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$WORK/registry" $(nodes_tls registry)
"$BUILD_DIR/client/lipctl" registry upload "$BRIDGE" --registry "127.0.0.1:$PORT_registry" $ADMIN > "$WORK/upload.json"
NAME=$(nodes_bridge_field "$BRIDGE" name)
TASK=$(nodes_bridge_field "$BRIDGE" task)
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --bridge=$NAME"
nodes_start receiver "$B/lip-receiver" $common --node_id=receiver-soak --data_dir="$WORK/receiver" \
  --model_dir=demo/models/receiver-qwen2 $(nodes_tls receiver)
nodes_start sender "$B/lip-sender" $common --node_id=sender-soak --data_dir="$WORK/sender" \
  --model_dir=demo/models/sender-llama $(nodes_tls sender)

nodes_rss_sampler "$PID_receiver" "$WORK/rss.txt" 5 &
sampler=$!
echo "soak: ${DURATION}s at ${FACTOR}x saturation against receiver pid $PID_receiver" >&2
"$BUILD_DIR/benchmarks/lip_load_driver" --target=receiver --sender="127.0.0.1:$PORT_sender" \
  --receiver="127.0.0.1:$PORT_receiver" --certs="$WORK/certs" --task="$TASK" --rate=0 \
  --load_factor="$FACTOR" --duration_s="$DURATION" --deadline_ms="$DEADLINE" > "$WORK/driver.json"
# Still serving after the load: one more message must be answered OK.
"$BUILD_DIR/benchmarks/lip_load_driver" --target=receiver --sender="127.0.0.1:$PORT_sender" \
  --receiver="127.0.0.1:$PORT_receiver" --certs="$WORK/certs" --task="$TASK" --rate=1 --duration_s=3 \
  --max_texts=3 > "$WORK/after.json"
kill "$sampler" 2>/dev/null || true
kill -TERM "$PID_receiver"
receiver_rc=0
wait "$PID_receiver" || receiver_rc=$?

$PY - "$WORK" "$receiver_rc" "$OUT" <<'PYEOF'
import json, sys
work, receiver_rc, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
driver = [json.loads(l) for l in open(f"{work}/driver.json") if l.strip()][-1]
after = [json.loads(l) for l in open(f"{work}/after.json") if l.strip()][-1]
rss = [tuple(map(int, l.split())) for l in open(f"{work}/rss.txt") if l.strip()]
mib = [r[1] / 1024 for r in rss]
report = {
    "test": "soak", "driver": driver, "after_load_codes": after["codes"],
    "receiver_exit_code_on_sigterm": receiver_rc,
    "rss_mib": {"samples": len(mib), "first": round(mib[0], 1) if mib else None,
                "max": round(max(mib), 1) if mib else None, "last": round(mib[-1], 1) if mib else None,
                "series_s_mib": [[s, round(k / 1024, 1)] for s, k in rss]},
}
allowed = {"OK", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"}
problems = []
bad = {c: n for c, n in driver["codes"].items() if c not in allowed}
if bad: problems.append(f"answers with other codes: {bad}")
if driver["unanswered"]: problems.append(f"{driver['unanswered']} requests unanswered")
if after["codes"].get("OK", 0) != after["sent"]: problems.append(f"not serving after the load: {after['codes']}")
if receiver_rc != 0: problems.append(f"receiver exited {receiver_rc} on SIGTERM")
report["problems"] = problems
report["passed"] = not problems
text = json.dumps(report, indent=1)
print(text)
if out:
    open(out, "w").write(text + "\n")
sys.exit(0 if not problems else 1)
PYEOF
