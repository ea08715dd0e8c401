#!/usr/bin/env bash
# The compose stack's one-shot `client` service: waits until the registry lists both receivers
# alive, then sends the first N AG News messages of demo/messages.jsonl through the sender (latent
# path; the sender picks a receiver from the registry, round robin) and prints one line per answer:
# right or not, answer, gold label, latency, wire bytes, the receiver that answered, the text.
#
#   bash deploy/docker/client.sh [N]     (default $LIP_MESSAGES or 12; runs inside the image)
#
# Exits 1 when a message is not answered or the receivers do not come up within 180 s.
set -euo pipefail
n=${1:-${LIP_MESSAGES:-12}}
tls=(--cert /certs/admin.crt --key /certs/admin.key --ca /certs/ca.crt)
registry=${LIP_REGISTRY:-registry:17400}
sender=${LIP_SENDER:-sender:17402}

echo "client: waiting for 2 alive receivers in the registry ($registry)"
alive=0
for _ in $(seq 1 180); do
  alive=$(lipctl registry nodes --role receiver --registry "$registry" "${tls[@]}" 2>/dev/null \
            | jq '[.nodes[]? | select(.alive == true)] | length' 2>/dev/null) || alive=0
  [ "${alive:-0}" -ge 2 ] && break
  sleep 1
done
if [ "${alive:-0}" -lt 2 ]; then echo "client: only ${alive:-0} receiver(s) alive after 180 s" >&2; exit 1; fi
lipctl registry nodes --registry "$registry" "${tls[@]}" \
  | jq -r '.nodes[] | "client: node \(.node_id) \(.role) \(.address) alive=\(.alive // false)"'

# The bridge's class names, in the order of the receiver's label_index.
names=$(jq -c '.training.label_names' demo/bridges/demo-ag_news/bridge.json)
echo "client: $n AG News messages through $sender (latent, 8 soft tokens)"
right=0 sent=0 failed=0
declare -A by_receiver=()
while IFS=$'\t' read -r gold text; do
  sent=$((sent + 1))
  if ! out=$(lipctl node send "$text" --sender "$sender" "${tls[@]}" 2>&1); then
    failed=$((failed + 1)); echo "client: message $sent failed: $out" >&2; continue
  fi
  IFS=$'\t' read -r label ms bytes receiver < <(jq -r --argjson names "$names" '[
      $names[.answer.classification.label_index // 0] // "?",
      (.timings.total_ms // 0 | floor), (.wire_bytes // 0), (.receiver_address // "?")] | @tsv' <<< "$out")
  ok=NO; [ "$label" = "$gold" ] && { ok=yes; right=$((right + 1)); }
  by_receiver[$receiver]=$(( ${by_receiver[$receiver]:-0} + 1 ))
  printf 'answer %-3s %-9s gold %-9s %5s ms %5s B  %-17s %.48s\n' "$ok" "$label" "$gold" "$ms" "$bytes" "$receiver" "$text"
done < <(jq -r 'select(.task == "ag_news") | [.label, .text] | @tsv' demo/messages.jsonl | head -n "$n")
spread=""
for r in "${!by_receiver[@]}"; do spread="$spread $r=${by_receiver[$r]}"; done
echo "client: $((sent - failed))/$sent answered, $right right; answered by:$spread"
[ "$failed" = 0 ]
