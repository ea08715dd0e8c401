#!/usr/bin/env bash
# End-to-end check of the compose stack (docker-compose.yml): up on its own bridge network, the
# one-shot `certs` and `publish` services done, every node healthy by its gRPC health check, the
# one-shot `client` answered every demo message with both receivers answering some, Prometheus
# sees LIP metrics from every node (a PromQL query through its HTTP API), and on
# `docker-compose stop` (SIGTERM) every node drains and exits 0. Removes the stack and its
# certificate volume on exit.
#
#   bash deploy/docker/smoke.sh [MESSAGES]     (default 12)
#
# Needs the images lip:latest and lip-prometheus:latest ($LIP_IMAGE, $LIP_PROMETHEUS_IMAGE;
# docs/nodes.md#docker builds them), docker-compose and python3. Prometheus is published on
# 127.0.0.1:$LIP_PROMETHEUS_PORT (default 19090 here); the query goes to its address on the
# compose network, so a busy host port does not matter. Exits non-zero on the first check that fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LIP_MESSAGES=${1:-12}
export LIP_IMAGE=${LIP_IMAGE:-lip:latest}
export LIP_PROMETHEUS_IMAGE=${LIP_PROMETHEUS_IMAGE:-lip-prometheus:latest}
export LIP_PROMETHEUS_PORT=${LIP_PROMETHEUS_PORT:-19090}
compose=(docker-compose -f deploy/docker/docker-compose.yml -p lip-smoke)
NODES=(registry receiver-1 receiver-2 sender)

for image in "$LIP_IMAGE" "$LIP_PROMETHEUS_IMAGE"; do
  docker image inspect "$image" > /dev/null 2>&1 || { echo "smoke: no image $image (docs/nodes.md#docker)" >&2; exit 1; }
done
cleanup() {
  "${compose[@]}" down -v --remove-orphans -t 30 > /dev/null 2>&1 || true
}
trap cleanup EXIT
fail() {
  echo "smoke: FAIL: $*" >&2
  "${compose[@]}" ps >&2 || true
  "${compose[@]}" logs --tail 15 >&2 || true
  exit 1
}
id_of() { "${compose[@]}" ps -q "$1"; }

echo "== up ($LIP_IMAGE, $LIP_PROMETHEUS_IMAGE; $LIP_MESSAGES messages)"
start=$(date +%s)
# Compose waits for each health / completion condition before starting what depends on it.
"${compose[@]}" up -d || fail "docker-compose up"
echo "  up in $(( $(date +%s) - start )) s"
network=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$(id_of registry)")
echo "  network: $network($(docker network inspect -f '{{.Driver}}' ${network}))"
for service in certs publish; do
  code=$(docker inspect -f '{{.State.ExitCode}}' "$(id_of "$service")")
  echo "  $service (one-shot) exited $code"
  [ "$code" = 0 ] || fail "$service exited $code"
done
for service in "${NODES[@]}"; do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$(id_of "$service")")
  echo "  $service: $health (gRPC health check)"
  [ "$health" = healthy ] || fail "$service is $health"
done

echo "== client (one-shot): the demo messages through the sender"
client=$(id_of client)
code=$(timeout 600 docker wait "$client") || fail "the client did not finish within 600 s"
log=$(docker logs "$client" 2>&1)
echo "$log" | sed 's/^/  /'
[ "$code" = 0 ] || fail "the client exited $code"
summary=$(echo "$log" | grep '^client: .* answered, .* right; answered by:') || fail "no summary line from the client"
[[ "$summary" == "client: $LIP_MESSAGES/$LIP_MESSAGES answered"* ]] || fail "not every message was answered: $summary"
for receiver in receiver-1 receiver-2; do
  [[ "$summary" == *" $receiver:17401="* ]] || fail "$receiver answered no message: $summary"
done

echo "== Prometheus: LIP metrics from every node (PromQL through the HTTP API)"
prometheus_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(id_of prometheus)")
promql() {  # QUERY -> "instance value" lines
  python3 - "http://$prometheus_ip:9090" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
reply = json.load(urllib.request.urlopen(url, timeout=10))
if reply.get("status") != "success":
    raise SystemExit(f"query failed: {reply}")
for r in sorted(reply["data"]["result"], key=lambda r: r["metric"].get("instance", "")):
    print(r["metric"].get("instance", "?"), r["value"][1])
PY
}
query='count by (instance) ({job="lip", __name__=~"lip_.+"})'
seen=""
for _ in $(seq 1 60); do
  seen=$(promql "$query" 2> /dev/null || true)
  missing=0
  for service in "${NODES[@]}"; do grep -q "^$service:9400 " <<< "$seen" || missing=1; done
  [ $missing = 0 ] && break
  sleep 1
done
echo "  $query"
echo "$seen" | sed 's/^/    /'
for service in "${NODES[@]}"; do
  grep -q "^$service:9400 " <<< "$seen" || fail "Prometheus has no LIP metric from $service"
done
query='sum by (instance) (lip_rpc_requests_total{method="SendLatent", code="OK"})'
echo "  $query"
promql "$query" | sed 's/^/    /'

echo "== stop (SIGTERM: drain, exit 0)"
"${compose[@]}" stop -t 30
failed=0
for service in "${NODES[@]}"; do
  code=$(docker inspect -f '{{.State.ExitCode}}' "$(id_of "$service")")
  echo "  $service exited $code"
  [ "$code" = 0 ] || failed=1
done
[ $failed = 0 ] || fail "a node did not exit 0"
echo "smoke: PASS"
