# Two network namespaces joined by one emulated link (sourced, not run: no `set -euo pipefail` of its
# own; it runs under the sourcing script's `set -euo pipefail`): "edge" and "cloud",
# 10.99.0.1 and 10.99.0.2, each with its loopback up. Needs root and iproute2.
#
#   netns_supported            exit status 0 when namespaces can be made here (else prints why)
#   netns_up TAG               makes lip-edge-TAG and lip-cloud-TAG and the link; sets NETNS_EDGE,
#                              NETNS_CLOUD, NETNS_LINK_KIND (netem | user_space_emulator),
#                              NETNS_IF_EDGE, NETNS_IF_CLOUD
#   netns_profile RATE_BIT_S RTT_MS LOSS_PCT
#                              gives the link that rate and loss in each direction and RTT_MS / 2 of
#                              delay each way
#   netns_link_bytes           bytes that crossed the link so far, both directions (edge's counters)
#   netns_down                 stops the emulator and removes both namespaces (idempotent; for traps)
#
# The link is a veth pair shaped by `tc qdisc ... netem` on both ends where the kernel has netem;
# where it does not (CONFIG_NET_SCH_NETEM unset), two TUN devices joined by
# benchmarks/lib/link_emulator.py, which applies the same loss, drop-tail limit, rate and delay in
# user space. NETNS_LINK_KIND says which one ran.
NETNS_EDGE="" NETNS_CLOUD="" NETNS_LINK_KIND="" NETNS_IF_EDGE="" NETNS_IF_CLOUD=""
NETNS_EMULATOR_PID="" NETNS_PROFILE_FILE=""
NETNS_EDGE_IP=10.99.0.1 NETNS_CLOUD_IP=10.99.0.2
NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

netns_supported() {
  if [ "$(id -u)" -ne 0 ]; then echo "network namespaces need root" ; return 1; fi
  if ! command -v ip > /dev/null; then echo "iproute2 (ip) is not installed"; return 1; fi
  local probe="lip-probe-$$"
  if ! ip netns add "$probe" 2> /dev/null; then echo "ip netns add failed (no CAP_SYS_ADMIN or no netns support)"; return 1; fi
  ip netns del "$probe"
}

# True when this kernel has the netem qdisc (tried on a throwaway namespace's loopback).
netns_has_netem() {
  local probe="lip-netem-$$" ok=1
  ip netns add "$probe" 2> /dev/null || return 1
  ip -n "$probe" link set lo up
  ip netns exec "$probe" tc qdisc add dev lo root netem delay 1ms 2> /dev/null && ok=0
  ip netns del "$probe"
  return $ok
}

netns_up() {
  local tag=$1
  NETNS_EDGE="lip-edge-$tag" NETNS_CLOUD="lip-cloud-$tag"
  ip netns add "$NETNS_EDGE"
  ip netns add "$NETNS_CLOUD"
  ip -n "$NETNS_EDGE" link set lo up
  ip -n "$NETNS_CLOUD" link set lo up
  NETNS_IF_EDGE="le$tag" NETNS_IF_CLOUD="lc$tag"
  NETNS_IF_EDGE=${NETNS_IF_EDGE:0:15} NETNS_IF_CLOUD=${NETNS_IF_CLOUD:0:15}
  if netns_has_netem; then
    NETNS_LINK_KIND=netem
    ip link add "$NETNS_IF_EDGE" netns "$NETNS_EDGE" type veth peer name "$NETNS_IF_CLOUD" netns "$NETNS_CLOUD"
    # One wire packet per skb, so that netem's loss and rate count packets as a real link does.
    ip -n "$NETNS_EDGE" link set dev "$NETNS_IF_EDGE" gso_max_size 1514 gso_max_segs 1 2> /dev/null || true
    ip -n "$NETNS_CLOUD" link set dev "$NETNS_IF_CLOUD" gso_max_size 1514 gso_max_segs 1 2> /dev/null || true
    ip -n "$NETNS_EDGE" addr add "$NETNS_EDGE_IP/24" dev "$NETNS_IF_EDGE"
    ip -n "$NETNS_CLOUD" addr add "$NETNS_CLOUD_IP/24" dev "$NETNS_IF_CLOUD"
  else
    NETNS_LINK_KIND=user_space_emulator
    NETNS_PROFILE_FILE=$(mktemp /tmp/lip-link-profile.XXXXXX)
    echo '{"rate_bit_s": 0, "delay_ms": 0, "loss": 0}' > "$NETNS_PROFILE_FILE"
    local ready
    ready=$(mktemp /tmp/lip-link-ready.XXXXXX)
    # The emulator is the network: it runs on the cloud side's CPUs (NETNS_EMULATOR_CPUS), not the edge's.
    # Real-time priority: the link's timing must not depend on how busy the CPUs are (falls back without).
    local rt=(); chrt -f 10 true 2> /dev/null && rt=(chrt -f 10)
    ${NETNS_EMULATOR_CPUS:+taskset -c "$NETNS_EMULATOR_CPUS"} ${rt[@]+"${rt[@]}"} /usr/bin/python3 "$NETNS_LIB_DIR/link_emulator.py" \
      --tun "$NETNS_IF_EDGE" --tun "$NETNS_IF_CLOUD" --profile "$NETNS_PROFILE_FILE" > "$ready" &
    NETNS_EMULATOR_PID=$!
    local i
    for i in $(seq 1 100); do
      grep -q '"ready"' "$ready" 2> /dev/null && break
      kill -0 "$NETNS_EMULATOR_PID" 2> /dev/null || { echo "netns: link_emulator.py exited" >&2; return 1; }
      sleep 0.1
    done
    rm -f "$ready"
    ip link set "$NETNS_IF_EDGE" netns "$NETNS_EDGE"
    ip link set "$NETNS_IF_CLOUD" netns "$NETNS_CLOUD"
    ip -n "$NETNS_EDGE" addr add "$NETNS_EDGE_IP/32" peer "$NETNS_CLOUD_IP/32" dev "$NETNS_IF_EDGE"
    ip -n "$NETNS_CLOUD" addr add "$NETNS_CLOUD_IP/32" peer "$NETNS_EDGE_IP/32" dev "$NETNS_IF_CLOUD"
  fi
  ip -n "$NETNS_EDGE" link set "$NETNS_IF_EDGE" up
  ip -n "$NETNS_CLOUD" link set "$NETNS_IF_CLOUD" up
}

netns_profile() {
  local rate=$1 rtt_ms=$2 loss_pct=$3
  local half_ms
  half_ms=$(awk -v r="$rtt_ms" 'BEGIN { printf "%.3f", r / 2 }')
  if [ "$NETNS_LINK_KIND" = netem ]; then
    local ns dev
    for ns in "$NETNS_EDGE:$NETNS_IF_EDGE" "$NETNS_CLOUD:$NETNS_IF_CLOUD"; do
      dev=${ns#*:}
      ip netns exec "${ns%%:*}" tc qdisc replace dev "$dev" root netem delay "${half_ms}ms" \
        rate "${rate}bit" loss "${loss_pct}%" limit 1000
    done
  else
    local next="$NETNS_PROFILE_FILE.next"
    awk -v r="$rate" -v d="$half_ms" -v l="$loss_pct" \
      'BEGIN { printf "{\"rate_bit_s\": %s, \"delay_ms\": %s, \"loss\": %.6f, \"limit\": 1000}\n", r, d, l / 100 }' > "$next"
    mv "$next" "$NETNS_PROFILE_FILE"
    sleep 0.3  # the emulator looks at the file at least every 100 ms
  fi
}

netns_link_bytes() {
  local base="/sys/class/net/$NETNS_IF_EDGE/statistics"
  ip netns exec "$NETNS_EDGE" sh -c "echo \$((\$(cat $base/tx_bytes) + \$(cat $base/rx_bytes)))"
}

netns_down() {
  local ns
  for ns in "$NETNS_EDGE" "$NETNS_CLOUD"; do
    if [ -n "$ns" ]; then ip netns del "$ns" 2> /dev/null || true; fi
  done
  NETNS_EDGE="" NETNS_CLOUD=""
  if [ -n "$NETNS_EMULATOR_PID" ]; then
    kill -TERM "$NETNS_EMULATOR_PID" 2> /dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$NETNS_EMULATOR_PID" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$NETNS_EMULATOR_PID" 2> /dev/null || true
    NETNS_EMULATOR_PID=""
  fi
  if [ -n "$NETNS_PROFILE_FILE" ]; then rm -f "$NETNS_PROFILE_FILE" "$NETNS_PROFILE_FILE.next"; fi
}
