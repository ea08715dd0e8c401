#!/usr/bin/env bash
# Smoke test of the Docker deployment: fresh certificates, the compose stack up
# (registry, publish, receiver, sender on 127.0.0.1), a few demo AG News
# messages from demo/messages.jsonl sent through the sender with the image's
# own lipctl, then the stack stopped (SIGTERM: the nodes must exit 0) and removed.
#
#   bash deploy/docker/smoke.sh [MESSAGES]        (default 8; image: $LIP_IMAGE or lip:latest)
#
# Needs the image (deploy/docker/Dockerfile), docker-compose and python3.
# Exits non-zero when a node does not come up, a message fails, or a node
# does not stop cleanly.
set -euo pipefail
cd "$(dirname "$0")/../.."
MESSAGES=${1:-8}
export LIP_IMAGE=${LIP_IMAGE:-lip:latest}
export LIP_SENDER_PORT=${LIP_SENDER_PORT:-17402}
work=$(mktemp -d)
export LIP_CERTS_DIR="$work/certs"
compose=(docker-compose -f deploy/docker/docker-compose.yml -p lip-smoke)
cleanup() {
  "${compose[@]}" down --remove-orphans -t 30 > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The nodes get the CA certificate and the node certificates, never the CA key.
bash deploy/certs/make_certs.sh "$work/ca" admin registry sender receiver > /dev/null
mkdir -p "$LIP_CERTS_DIR"
cp "$work"/ca/{ca.crt,admin.*,registry.*,sender.*,receiver.*} "$LIP_CERTS_DIR/"
echo "== up ($LIP_IMAGE)"
"${compose[@]}" up -d

tls=(--cert /certs/admin.crt --key /certs/admin.key --ca /certs/ca.crt)
# stdin from /dev/null: `exec` would otherwise swallow the message list being read below.
lipctl() { "${compose[@]}" exec -T sender lipctl "$@" < /dev/null; }

echo "== waiting for the sender to answer"
ready=0
for _ in $(seq 1 180); do
  if lipctl node send "warm-up" --sender "127.0.0.1:$LIP_SENDER_PORT" "${tls[@]}" > /dev/null 2>&1; then
    ready=1; break
  fi
  sleep 1
done
if [ $ready -ne 1 ]; then
  echo "smoke: the sender did not answer within 180 s" >&2
  "${compose[@]}" ps >&2; "${compose[@]}" logs --tail 20 >&2
  exit 1
fi

echo "== $MESSAGES demo messages through the sender"
python3 - "$MESSAGES" > "$work/texts" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("demo/messages.jsonl") if l.strip()]
for r in [r for r in rows if r["task"] == "ag_news"][: int(sys.argv[1])]:
    print(json.dumps(r))
PY
classes='["World", "Sports", "Business", "Sci/Tech"]'
right=0; n=0
while IFS= read -r row; do
  text=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["text"])' "$row")
  gold=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["label"])' "$row")
  out=$(lipctl node send "$text" --sender "127.0.0.1:$LIP_SENDER_PORT" "${tls[@]}")
  line=$(python3 -c '
import json, sys
out, gold, classes = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
c = out["answer"]["classification"]
ok = int(c.get("label_index", 0)) == classes.index(gold)
print("%d %-10s %-9s %-3s %8.1f ms %6d B" % (ok, c["label"].strip(), gold, "yes" if ok else "NO", out["timings"]["total_ms"], int(out["wire_bytes"])))
' "$out" "$gold" "$classes")
  right=$((right + ${line%% *})); n=$((n + 1))
  echo "  ${line#* }  ${text:0:50}"
done < "$work/texts"
echo "  $right/$n right"
lipctl registry nodes --registry "127.0.0.1:${LIP_REGISTRY_PORT:-17400}" "${tls[@]}" \
  | python3 -c 'import json,sys; [print("  node %-11s %-18s %s alive=%s" % (x["node_id"], x["role"], x["address"], x.get("alive", False))) for x in json.load(sys.stdin).get("nodes", [])]'

echo "== stop (SIGTERM, graceful)"
"${compose[@]}" stop -t 30
failed=0
for service in registry receiver sender; do
  code=$(docker inspect -f '{{.State.ExitCode}}' "$("${compose[@]}" ps -q "$service")")
  echo "  $service exited $code"
  [ "$code" = "0" ] || failed=1
done
exit $failed
