#!/usr/bin/env bash
# Split computing: an edge device running the sender and the client, a server running the receiver
# (and the registry), joined by one constrained link. Two network namespaces, "edge" (10.99.0.1)
# and "cloud" (10.99.0.2), joined by a veth pair shaped with `tc netem` (or, on kernels without
# netem, the same treatment in user space: benchmarks/lib/netns.sh); the sender and the client are
# pinned to one CPU (the edge device), the receiver and the registry to the others. For each link
# profile it runs `lipctl bench run` from the edge for each path:
#
#   latent       client -> sender (edge loopback) -> LIP packet over the link -> receiver
#   text_relay   client -> sender writes a message (up to 32 tokens) -> its text over the link -> receiver
#   direct_text  client -> the original text over the link -> receiver
#   latent_named_receiver  latent with the receiver's address in the request (lipctl bench --to):
#                the sender skips its per-message ListNodes call to the registry, which sits
#                across the link with the receiver; the difference to latent is that round trip
#
# closed loop at each --concurrency (p50/p99 from 1 in flight, throughput = the best level), and
# counts the bytes that crossed the link (both directions: TLS, HTTP/2, TCP/IP, retransmissions,
# a new connection's handshake; the idle rate of the sender's heartbeats measured before each
# profile is subtracted). Writes
#   DIR/summary.json   {"profiles": {NAME: {PATH: {p50_ms, p99_ms, bytes_per_message,
#                       throughput_msg_s, link_bytes_per_message, answered_by_status, ...}}}, ...}
#   DIR/bench-PROFILE-PATH.json   each lipctl bench result (schema: benchmarks/README.md)
#   DIR/split_computing.png       (python3-matplotlib; skipped with a message when missing)
# and removes the namespaces and stops every process it started, also when interrupted. Exits 1
# when a request went unanswered or got an answer other than OK, 77 when network namespaces are
# not available here (not root, no iproute2).
#
#   bash benchmarks/split_computing.sh [--out DIR] [--profiles a,b] [--duration S] [--min-messages N]
#        [--concurrency 1,4] [--paths latent,text_relay,direct_text,latent_named_receiver] [--bridge DIR] [--device cpu|cuda]
#        [--edge-cpu N] [--generate-tokens N]
# Profiles (name: rate, RTT, loss per direction): datacenter 10 Gbit/s 0.2 ms 0 %, wifi 50 Mbit/s
# 10 ms 0.1 %, cellular 10 Mbit/s 60 ms 1 %, iot 1 Mbit/s 100 ms 0 %. Defaults: all four, 4 s per
# level stretched to 6 messages, c = 1,4, DIR = benchmarks/results/split-computing (about 4 minutes
# on a 2-core CPU; --duration 30 --min-messages 50 for tighter percentiles). --device cuda runs the
# receiver on the GPU (the edge -> GPU deployment); the sender stays on its one CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results/split-computing PROFILES=datacenter,wifi,cellular,iot DURATION=4 MIN_MESSAGES=6
CONCURRENCY=1,4 PATHS=latent,text_relay,direct_text,latent_named_receiver BRIDGE=demo/bridges/demo-ag_news DEVICE=cpu EDGE_CPU=0 TOKENS=32
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --profiles) PROFILES=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --min-messages) MIN_MESSAGES=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --paths) PATHS=$2; shift 2 ;;
    --bridge) BRIDGE=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --edge-cpu) EDGE_CPU=$2; shift 2 ;;
    --generate-tokens) TOKENS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "split_computing: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# name rate_bit_s rtt_ms loss_pct
profile_line() {
  case "$1" in
    datacenter) echo "10000000000 0.2 0" ;;
    wifi) echo "50000000 10 0.1" ;;
    cellular) echo "10000000 60 1" ;;
    iot) echo "1000000 100 0" ;;
    *) return 1 ;;
  esac
}
IFS=',' read -ra profile_list <<< "$PROFILES"
for p in "${profile_list[@]}"; do
  profile_line "$p" > /dev/null || { echo "split_computing: unknown profile $p (datacenter, wifi, cellular, iot)" >&2; exit 2; }
done
IFS=',' read -ra path_list <<< "$PATHS"
for p in "${path_list[@]}"; do
  case "$p" in
    latent|text_relay|direct_text|latent_named_receiver) ;;
    *) echo "split_computing: unknown path $p (latent, text_relay, direct_text, latent_named_receiver)" >&2; exit 2 ;;
  esac
done
[ -f "$BRIDGE/bridge.json" ] || { echo "split_computing: no bridge checkpoint at $BRIDGE" >&2; exit 1; }

source benchmarks/lib/netns.sh
if ! why=$(netns_supported); then
  echo "split_computing: SKIP: $why" >&2
  exit 77
fi
BUILD_DIR=${LIP_BUILD_DIR:-build}
LIP_TARGETS="lip-registry lip-receiver lip-sender lipctl" bash deploy/build.sh > /dev/null
cpus=$(nproc)
if [ "$cpus" -gt 1 ]; then
  CLOUD_CPUS=$(seq 0 $((cpus - 1)) | grep -vx "$EDGE_CPU" | paste -sd,)
  CLOUD_THREADS=$((cpus - 1))
else
  CLOUD_CPUS=$EDGE_CPU CLOUD_THREADS=1
fi
export NETNS_EMULATOR_CPUS=$CLOUD_CPUS
mkdir -p "$OUT"

WORK=$(mktemp -d)
source benchmarks/lib/nodes.sh
cleanup() {
  trap '' INT TERM
  nodes_stop_all
  netns_down
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns_up "s$$"
echo "== link: $NETNS_EDGE ($NETNS_EDGE_IP, edge: sender + client on CPU $EDGE_CPU) <-> $NETNS_CLOUD ($NETNS_CLOUD_IP, receiver + registry on CPU $CLOUD_CPUS), $NETNS_LINK_KIND"
EDGE=(ip netns exec "$NETNS_EDGE" taskset -c "$EDGE_CPU")
CLOUD=(ip netns exec "$NETNS_CLOUD" taskset -c "$CLOUD_CPUS")
# Certificates name the address each node is dialled at.
bash deploy/certs/make_certs.sh "$WORK/certs" admin --san="IP:$NETNS_CLOUD_IP" registry receiver \
  --san="IP:$NETNS_EDGE_IP" sender > /dev/null
B="$BUILD_DIR/server"
LIPCTL="$BUILD_DIR/client/lipctl"
NAME=$(nodes_bridge_field "$BRIDGE" name)
TASK=$(nodes_bridge_field "$BRIDGE" task)
NODES_HOST=$NETNS_CLOUD_IP
nodes_start registry "${CLOUD[@]}" "$B/lip-registry" --listen="$NETNS_CLOUD_IP:0" --data_dir="$WORK/registry" \
  --metrics_listen=off $(nodes_tls registry)
"${CLOUD[@]}" "$LIPCTL" registry upload "$BRIDGE" --registry "$NETNS_CLOUD_IP:$PORT_registry" \
  --cert "$WORK/certs/admin.crt" --key "$WORK/certs/admin.key" --ca "$WORK/certs/ca.crt" > /dev/null
nodes_start receiver "${CLOUD[@]}" "$B/lip-receiver" --listen="$NETNS_CLOUD_IP:0" --metrics_listen=off \
  --registry="$NETNS_CLOUD_IP:$PORT_registry" --node_id=receiver-split --data_dir="$WORK/receiver" \
  --model_dir=demo/models/receiver-qwen2 --bridge="$NAME" --device="$DEVICE" --torch_threads="$CLOUD_THREADS" \
  $(nodes_tls receiver)
# The edge device: one CPU, and LibTorch told so (it would size its thread pool by the machine).
NODES_HOST=127.0.0.1
nodes_start sender "${EDGE[@]}" "$B/lip-sender" --listen=127.0.0.1:0 --metrics_listen=off --torch_threads=1 \
  --registry="$NETNS_CLOUD_IP:$PORT_registry" --node_id=sender-split --data_dir="$WORK/sender" \
  --model_dir=demo/models/sender-llama --bridge="$NAME" $(nodes_tls sender)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
device="edge: 1 core (CPU $EDGE_CPU) of ${cpu:-unknown}, LibTorch fp32; receiver: $DEVICE on CPUs $CLOUD_CPUS"
echo "== $PATHS per profile: closed loop c=$CONCURRENCY, ${DURATION} s per level (>= $MIN_MESSAGES messages); load average $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for profile in "${profile_list[@]}"; do
  read -r rate rtt loss <<< "$(profile_line "$profile")"
  netns_profile "$rate" "$rtt" "$loss"
  # The RTT this link gives a TCP connection (median of 20 one-byte round trips), as measured.
  measured_rtt=$("${CLOUD[@]}" $PY benchmarks/lib/rtt_probe.py serve "$NETNS_CLOUD_IP" 7999 &
                 sleep 0.3; "${EDGE[@]}" $PY benchmarks/lib/rtt_probe.py probe "$NETNS_CLOUD_IP" 7999)
  echo "-- $profile: $rate bit/s, RTT $rtt ms (measured $measured_rtt ms), loss $loss % each way"
  # What crosses the link with no message in flight (the sender's heartbeats and link reports to
  # the registry), subtracted from the per-message figure below.
  idle_before=$(netns_link_bytes); sleep 3; idle_bytes=$(( $(netns_link_bytes) - idle_before ))
  echo "{\"rate_bit_s\": $rate, \"rtt_ms\": $rtt, \"loss_pct_each_way\": $loss, \"measured_rtt_ms\": $measured_rtt, \"idle_bytes_per_s\": $((idle_bytes / 3))}" \
    > "$WORK/link-$profile.json"
  for path in "${path_list[@]}"; do
    bench_path=$path to=()
    if [ "$path" = latent_named_receiver ]; then bench_path=latent to=(--to "$NETNS_CLOUD_IP:$PORT_receiver"); fi
    before=$(netns_link_bytes) t0=$(date +%s.%N)
    "${EDGE[@]}" "$LIPCTL" bench run --sender "127.0.0.1:$PORT_sender" --receiver "$NETNS_CLOUD_IP:$PORT_receiver" \
      --cert "$WORK/certs/sender.crt" --key "$WORK/certs/sender.key" --ca "$WORK/certs/ca.crt" ${to[@]+"${to[@]}"} \
      --paths "$bench_path" --messages demo/messages.jsonl --task "$TASK" --bridge-json "$BRIDGE/bridge.json" \
      --concurrency "$CONCURRENCY" --duration-s "$DURATION" --min-messages "$MIN_MESSAGES" \
      --generate-tokens "$TOKENS" --device "$device" --models "demo: sender-llama -> receiver-qwen2, bridge $NAME" \
      --json "$OUT/bench-$profile-$path.json" --quiet 2> "$WORK/bench.err" || { rc=1; cat "$WORK/bench.err" >&2; }
    echo "$(( $(netns_link_bytes) - before )) $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
      > "$WORK/link-bytes-$profile-$path"
    $PY - "$OUT/bench-$profile-$path.json" "$path" "$bench_path" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))["paths"][sys.argv[3]]
print(f"   {sys.argv[2]:<11} p50 {p['p50_ms_c1'] or 0:8.1f} ms  p99 {p['p99_ms_c1'] or 0:8.1f} ms  "
      f"{p['saturation_throughput_msg_s']:7.2f} msg/s  {p['bytes_per_message']:6.0f} B  answers {p['answered_by_status']}")
PYEOF
  done
done

if $PY - "$OUT" "$WORK" "$PROFILES" "$PATHS" "$NETNS_LINK_KIND" "$EDGE_CPU" "$CLOUD_CPUS" "$DEVICE" "$CONCURRENCY" \
  "$DURATION" "$MIN_MESSAGES" <<'PYEOF'
import json, os, subprocess, sys
out, work, profiles, paths, kind, edge_cpu, cloud_cpus, device, conc, duration, min_msgs = sys.argv[1:]
summary = {"profiles": {}, "link": {"kind": kind, "edge": "sender + client", "cloud": "receiver + registry",
           "note": "rate, delay (RTT/2) and loss applied in each direction"},
           "placement": {"edge_cpu": edge_cpu, "cloud_cpus": cloud_cpus, "receiver_device": device},
           "config": {"concurrency": conc, "duration_s_per_level": float(duration),
                      "min_messages_per_level": int(min_msgs)}}
all_ok = True
for profile in profiles.split(","):
    block = {"link": json.load(open(f"{work}/link-{profile}.json"))}
    for path in paths.split(","):
        bench = json.load(open(f"{out}/bench-{profile}-{path}.json"))
        p = bench["paths"]["latent" if path == "latent_named_receiver" else path]
        warmup = bench["config"]["warmup_per_path"]
        link_bytes, seconds = open(f"{work}/link-bytes-{profile}-{path}").read().split()
        messages = max(1, p["sent"] + warmup)
        net_bytes = int(link_bytes) - block["link"]["idle_bytes_per_s"] * float(seconds)
        block[path] = {"p50_ms": p["p50_ms_c1"], "p99_ms": p["p99_ms_c1"],
                       "bytes_per_message": p["bytes_per_message"],
                       "throughput_msg_s": p["saturation_throughput_msg_s"],
                       "throughput_concurrency": p["saturation_concurrency"],
                       "link_bytes_per_message": round(max(0.0, net_bytes) / messages, 1),
                       "link_bytes_per_message_with_idle": round(int(link_bytes) / messages, 1),
                       "sent": p["sent"], "answered": p["answered"], "answered_by_status": p["answered_by_status"],
                       "accuracy": p["accuracy"]}
        all_ok &= p["sent"] == p["answered"] and set(p["answered_by_status"]) <= {"OK"}
    summary["profiles"][profile] = block
summary["all_answered_ok"] = all_ok
summary["host"] = {"cpus": os.cpu_count(), "load_average_1m_5m_15m_end": open("/proc/loadavg").read().split()[:3],
                   "git_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                                text=True).stdout.strip()}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
open(f"{out}/summary.json", "a").write("\n")
print("\n== summary (p50/p99 at 1 in flight, ms; throughput msg/s; bytes: payload / on the link per message)")
for profile, block in summary["profiles"].items():
    link = block["link"]
    print(f"  {profile} (RTT {link['rtt_ms']} ms, measured {link['measured_rtt_ms']} ms)")
    for path in paths.split(","):
        r = block[path]
        print(f"    {path:<21} {r['p50_ms'] or 0:8.1f} {r['p99_ms'] or 0:8.1f}  {r['throughput_msg_s']:7.2f} msg/s"
              f"  {r['bytes_per_message']:6.0f} / {r['link_bytes_per_message']:7.0f} B  {r['answered_by_status']}")
sys.exit(0 if all_ok else 1)
PYEOF
then :; else rc=1; fi
if $PY -c 'import matplotlib' 2> /dev/null; then
  $PY benchmarks/plot_split_computing.py "$OUT/summary.json" "$OUT/split_computing.png"
else
  echo "split_computing: python3-matplotlib is missing (bash deploy/setup.sh installs it); no plot" >&2
fi

echo "== stop the nodes (graceful)"
nodes_stop_graceful "$PID_sender" "$PID_receiver" || rc=1
nodes_stop_graceful "$PID_registry" || rc=1
echo "  results in $OUT/"
exit $rc
