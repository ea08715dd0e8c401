# Node start-up shared by benchmarks/load_test.sh, soak.sh, failover_chaos.sh and split_computing.sh
# (sourced, not run: no `set -euo pipefail` of its own; it runs under those scripts' `set -euo pipefail`): fresh certificates, nodes over mutual TLS on a port the OS picks, a cleanup
# trap that stops every node it started. Needs BUILD_DIR and WORK set by the caller.
#
#   nodes_start NAME CMD...     a node (CMD may start with a wrapper: `ip netns exec NS`, `taskset`)
#   nodes_stop_graceful PID...  SIGTERM, wait and forget them: status 1 when one did not exit 0
#   nodes_stop_all              for traps: TERM everything started, KILL what is left after 15 s
#   nodes_bridge_field DIR KEY  a top-level field of DIR/bridge.json ("" when absent)
PY=/usr/bin/python3
NODE_PIDS=()

nodes_stop_all() {  # TERM every node, wait (bounded), KILL stragglers
  local pid
  for pid in ${NODE_PIDS[@]+"${NODE_PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in ${NODE_PIDS[@]+"${NODE_PIDS[@]}"}; do
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

nodes_certs() {  # makes $WORK/certs for admin registry sender and the given extra receivers
  bash deploy/certs/make_certs.sh "$WORK/certs" admin registry sender "$@" > /dev/null
}

nodes_tls() { echo "--tls_cert=$WORK/certs/$1.crt --tls_key=$WORK/certs/$1.key --tls_ca=$WORK/certs/ca.crt"; }

nodes_stop_graceful() {
  local pid failed=0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" || { echo "nodes: pid $pid did not exit cleanly" >&2; failed=1; }; done
  local left=() p stopped
  for p in ${NODE_PIDS[@]+"${NODE_PIDS[@]}"}; do  # forget exactly these (a trap must not signal reused pids)
    stopped=0
    for pid in "$@"; do [ "$p" = "$pid" ] && stopped=1; done
    [ $stopped = 1 ] || left+=("$p")
  done
  NODE_PIDS=(${left[@]+"${left[@]}"})
  return $failed
}

nodes_bridge_field() {
  $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1/bridge.json" "$2"
}

# nodes_start NAME BINARY ARGS...: runs a node, waits for its listening line, sets PORT_<NAME> and PID_<NAME>.
# The address it prints is NODES_HOST (default 127.0.0.1), for nodes listening elsewhere.
nodes_start() {
  local name=$1 binary=$2; shift 2
  "$binary" "$@" > "$WORK/$name.out" 2> "$WORK/$name.log" &
  local pid=$!
  NODE_PIDS+=("$pid")
  printf -v "PID_${name}" '%s' "$pid"
  for _ in $(seq 1 900); do
    if grep -q '"event":"listening"' "$WORK/$name.out" 2>/dev/null; then
      local port
      port=$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$WORK/$name.out")
      printf -v "PORT_${name}" '%s' "$port"
      echo "  $name (pid $pid) listening on ${NODES_HOST:-127.0.0.1}:$port" >&2
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited during startup:" >&2; tail -5 "$WORK/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$name did not start within 90 s" >&2; tail -5 "$WORK/$name.log" >&2; return 1
}

# nodes_rss_sampler PID FILE PERIOD_S: appends "seconds rss_kib" lines until PID exits (background it).
nodes_rss_sampler() {
  local pid=$1 file=$2 period=$3 t0
  t0=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    local rss
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
    [ -n "$rss" ] && echo "$(( $(date +%s) - t0 )) $rss" >> "$file"
    sleep "$period"
  done
}
