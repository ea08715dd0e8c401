#!/usr/bin/env bash
# Chaos: kill -9 of a receiver under load, with two receivers serving the same bridge
# (docs/reliability.md §Failover).
#
#   bash benchmarks/failover_chaos.sh [--duration_s 30] [--kill_at_s 10] [--rate 10]
#                                     [--bridge demo/bridges/demo-sst2] [--out FILE]
#
# Starts a registry, publishes the bridge, starts receivers A and B (same bridge) and one sender on
# 127.0.0.1 over mutual TLS, then sends --rate messages/s through the sender's Send RPC (the sender
# picks a receiver through the registry) for --duration_s seconds; at --kill_at_s receiver A gets
# SIGKILL. Reports the messages lost (answers other than OK), when the failures started and ended,
# and the per-second failure counts; the figure the issue asks for is 0 lost after failover.
# Exit status: 0 when the run completed (whatever was lost), 1 when something else broke;
# --require_zero_loss makes a lost message fail the script too.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
DURATION=30 KILL_AT=10 RATE=10 BRIDGE=demo/bridges/demo-sst2 OUT="" REQUIRE_ZERO=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration_s) DURATION=$2; shift 2 ;;
    --kill_at_s) KILL_AT=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --bridge) BRIDGE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --require_zero_loss) REQUIRE_ZERO=1; shift ;;
    *) echo "failover_chaos: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$BRIDGE/bridge.json" ] || { echo "failover_chaos: no bridge checkpoint at $BRIDGE" >&2; exit 1; }
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl lip_load_driver" bash deploy/build.sh > /dev/null

WORK=$(mktemp -d)
source benchmarks/lib/nodes.sh
trap 'nodes_stop_all; rm -rf "$WORK"' EXIT
nodes_certs receiver-a:receiver receiver-b:receiver
B="$BUILD_DIR/server"
ADMIN="--cert $WORK/certs/admin.crt --key $WORK/certs/admin.key --ca $WORK/certs/ca.crt"
nodes_start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$WORK/registry" $(nodes_tls registry)
"$BUILD_DIR/client/lipctl" registry upload "$BRIDGE" --registry "127.0.0.1:$PORT_registry" $ADMIN > "$WORK/upload.json"
NAME=$(nodes_bridge_field "$BRIDGE" name)
TASK=$(nodes_bridge_field "$BRIDGE" task)
common="--listen=127.0.0.1:0 --registry=127.0.0.1:$PORT_registry --bridge=$NAME"
for r in a b; do
  nodes_start "receiver_$r" "$B/lip-receiver" $common --node_id="receiver-$r" --data_dir="$WORK/receiver-$r" \
    --model_dir=demo/models/receiver-qwen2 $(nodes_tls "receiver-$r")
done
nodes_start sender "$B/lip-sender" $common --node_id=sender-chaos --data_dir="$WORK/sender" \
  --model_dir=demo/models/sender-llama $(nodes_tls sender)

echo "failover_chaos: ${RATE}/s through the sender for ${DURATION}s; kill -9 receiver-a at ${KILL_AT}s" >&2
"$BUILD_DIR/benchmarks/lip_load_driver" --target=sender --sender="127.0.0.1:$PORT_sender" \
  --certs="$WORK/certs" --identity=admin --task="$TASK" --rate="$RATE" --duration_s="$DURATION" \
  --deadline_ms=10000 > "$WORK/driver.json" &
driver=$!
# The driver prints load_start when its schedule begins; the kill is timed from there.
for _ in $(seq 1 600); do grep -q load_start "$WORK/driver.json" 2>/dev/null && break; sleep 0.1; done
sleep "$KILL_AT"
kill -KILL "$PID_receiver_a"
echo "failover_chaos: receiver-a killed" >&2
wait "$driver"
b_alive=1; kill -0 "$PID_receiver_b" 2>/dev/null || b_alive=0

$PY - "$WORK" "$KILL_AT" "$b_alive" "$OUT" "$REQUIRE_ZERO" <<'PYEOF'
import json, sys
work, kill_at, b_alive, out, require_zero = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
driver = [json.loads(l) for l in open(f"{work}/driver.json") if l.strip()][-1]
lost = driver["sent"] - driver["codes"].get("OK", 0)
report = {"test": "failover_chaos", "driver": driver, "kill_at_s": kill_at, "receiver_b_alive": bool(b_alive),
          "messages_lost": lost,
          "failure_window_s": (round(driver["last_failure_s"] - driver["first_failure_s"], 2)
                               if driver["first_failure_s"] >= 0 else 0)}
problems = []
if not b_alive: problems.append("receiver-b died")
if driver["unanswered"]: problems.append(f"{driver['unanswered']} messages unanswered")
if require_zero and lost: problems.append(f"{lost} messages lost")
report["problems"] = problems
text = json.dumps(report, indent=1)
print(text)
if out:
    open(out, "w").write(text + "\n")
sys.exit(0 if not problems else 1)
PYEOF
