#!/usr/bin/env bash
# Chaos: the registry is down for OUTAGE_S seconds (kill -9) under a steady message load, then comes
# back on the same address with an empty node directory. Real processes on 127.0.0.1 with mutual TLS:
# a registry, a receiver and a sender (demo model pair, a shipped demo bridge fetched from the
# registry at start-up), and a client sending one message at a time through the sender (no receiver
# address: the sender resolves the receiver through the registry, from its last list while it is down).
#
#   bash deploy/chaos/registry_outage.sh [OUTAGE_S] [BRIDGE_DIR]   (defaults: 30, demo/bridges/demo-sst2)
#
# Prints a short report and one JSON line (prefix "RESULT ") with: messages before / during / after
# the outage and how many were answered OK, the errors seen, and the time from the registry's return
# until both nodes were listed alive again (they re-register on their own). Exits non-zero when a
# message during the outage failed or a node did not come back within 60 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUTAGE_S=${1:-30}
BRIDGE_DIR=${2:-demo/bridges/demo-sst2}
BUILD_DIR=${LIP_BUILD_DIR:-build}
PY=/usr/bin/python3
if [ ! -f "$BRIDGE_DIR/bridge.json" ]; then
  echo "registry_outage: no bridge checkpoint at $BRIDGE_DIR" >&2; exit 1
fi
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh > /dev/null

work=$(mktemp -d)
pids=()
load_pid=""
stop_all() {
  local pid
  [ -n "$load_pid" ] && kill -TERM "$load_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap 'stop_all; rm -rf "$work"' EXIT

bash deploy/certs/make_certs.sh "$work/certs" > /dev/null
tls() { echo "--tls_cert=$work/certs/$1.crt --tls_key=$work/certs/$1.key --tls_ca=$work/certs/ca.crt"; }
ADMIN="--cert $work/certs/admin.crt --key $work/certs/admin.key --ca $work/certs/ca.crt"
B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"

# start NAME BINARY ARGS...: runs a node, waits for its listening line, sets PORT_<NAME>.
start() {
  local name=$1 binary=$2; shift 2
  : > "$work/$name.out"
  "$binary" "$@" > "$work/$name.out" 2>> "$work/$name.log" &
  pids+=($!)
  for _ in $(seq 1 600); do
    if grep -q '"event":"listening"' "$work/$name.out" 2>/dev/null; then
      printf -v "PORT_${name}" '%s' \
        "$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$work/$name.out")"
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "registry_outage: $name exited during startup:" >&2; tail -5 "$work/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "registry_outage: $name did not start within 60 s" >&2; exit 1
}

# Both nodes listed alive by the registry at $1?
both_alive() {
  "$LIPCTL" registry nodes --registry "$1" $ADMIN 2>/dev/null | $PY -c '
import json,sys
alive = {n["node_id"] for n in json.load(sys.stdin).get("nodes", []) if n.get("alive")}
sys.exit(0 if {"receiver-chaos", "sender-chaos"} <= alive else 1)'
}

start registry "$B/lip-registry" --listen=127.0.0.1:0 --data_dir="$work/registry" $(tls registry)
registry_pid=${pids[-1]}
REGISTRY="127.0.0.1:$PORT_registry"
"$LIPCTL" registry upload "$BRIDGE_DIR" --registry "$REGISTRY" $ADMIN > /dev/null
bridge_name=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$BRIDGE_DIR/bridge.json")
common="--listen=127.0.0.1:0 --registry=$REGISTRY --bridge=$bridge_name"
start receiver "$B/lip-receiver" $common --node_id=receiver-chaos --data_dir="$work/receiver" \
  --model_dir=demo/models/receiver-qwen2 $(tls receiver)
start sender "$B/lip-sender" $common --node_id=sender-chaos --data_dir="$work/sender" \
  --model_dir=demo/models/sender-llama $(tls sender)
for _ in $(seq 1 100); do both_alive "$REGISTRY" && break; sleep 0.2; done
echo "registry_outage: registry $REGISTRY, receiver and sender up; outage of ${OUTAGE_S} s under load"

# The load: one message at a time through the sender, each logged as "<unix time> <ok|error> <detail>".
$PY - "$LIPCTL" "127.0.0.1:$PORT_sender" "$work" > "$work/load.log" <<'PYEOF' &
import subprocess, sys, time
lipctl, sender, work = sys.argv[1:4]
tls = ["--cert", f"{work}/certs/admin.crt", "--key", f"{work}/certs/admin.key", "--ca", f"{work}/certs/ca.crt"]
while True:
    out = subprocess.run([lipctl, "node", "send", "a gorgeous , witty , seductive movie .", "--sender", sender] + tls,
                         capture_output=True, text=True, timeout=120)
    detail = "" if out.returncode == 0 else out.stderr.strip().replace("\n", " ")[:160]
    print(f"{time.time():.3f} {'ok' if out.returncode == 0 else 'error'} {detail}", flush=True)
    time.sleep(0.1)
PYEOF
load_pid=$!

sleep 5
t_down=$(date +%s.%N)
kill -KILL "$registry_pid"
wait "$registry_pid" 2>/dev/null || true
sleep "$OUTAGE_S"
t_up=$(date +%s.%N)
start registry "$B/lip-registry" --listen="$REGISTRY" --data_dir="$work/registry" $(tls registry)
t_back=""
for _ in $(seq 1 600); do
  if both_alive "$REGISTRY"; then t_back=$(date +%s.%N); break; fi
  sleep 0.1
done
sleep 5
kill -TERM "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
load_pid=""

$PY - "$work/load.log" "$t_down" "$t_up" "${t_back:-}" "$OUTAGE_S" <<'PYEOF'
import collections, json, sys
log, t_down, t_up, t_back, outage = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
phases = {"before": [0, 0], "during": [0, 0], "after": [0, 0]}
errors = collections.Counter()
for line in open(log):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) < 2:
        continue
    t, status = float(parts[0]), parts[1]
    phase = "before" if t < t_down else ("during" if t < t_up else "after")
    phases[phase][0] += 1
    phases[phase][1] += status == "ok"
    if status != "ok":
        errors[f"{phase}: {parts[2] if len(parts) > 2 else ''}"] += 1
reregister_s = round(float(t_back) - t_up, 2) if t_back else None
result = {"outage_s": outage,
          "messages": {p: {"sent": v[0], "ok": v[1]} for p, v in phases.items()},
          "reregister_s": reregister_s, "errors": dict(errors)}
print(f"registry down {outage:.0f} s (kill -9), back on the same address:")
for p, v in phases.items():
    print(f"  {p:<6} the outage: {v[1]:>4}/{v[0]:<4} messages answered OK")
print(f"  both nodes listed alive again {reregister_s} s after the registry's return" if reregister_s is not None
      else "  the nodes did NOT register again within 60 s")
for e, n in errors.items():
    print(f"  error x{n}: {e}")
print("RESULT " + json.dumps(result))
ok = phases["during"][0] > 0 and phases["during"][0] == phases["during"][1] and reregister_s is not None
sys.exit(0 if ok else 1)
PYEOF
