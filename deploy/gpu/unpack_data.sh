#!/usr/bin/env bash
# On the GPU machine: unpacks what deploy/gpu/pack_data.sh packed into ../shared/data.
#   bash deploy/gpu/unpack_data.sh .device/gpu-data
set -euo pipefail
SRC=$(cd "${1:?packed data dir}" && pwd)
cd "$(dirname "$0")/../.."
DST=$(cd .. && pwd)/shared/data
for t in sst2 ag_news trec; do
  mkdir -p "$DST/$t"
  for s in train test; do xz -dc "$SRC/$t/$s.jsonl.xz" > "$DST/$t/$s.jsonl"; done
done
ls "$DST"/*
