#!/usr/bin/env bash
# Here (beside ../shared): packs the classification train/test splits the suite reads into
# .device/gpu-data (1.6 MB of xz, git-ignored) for a device call; on the GPU machine
# `bash deploy/gpu/unpack_data.sh .device/gpu-data` puts them back at ../shared/data, where the
# bridge configs look for them.
set -euo pipefail
cd "$(dirname "$0")/../.."
for t in sst2 ag_news trec; do
  mkdir -p ".device/gpu-data/$t"
  for s in train test; do xz -6 -c "../shared/data/$t/$s.jsonl" > ".device/gpu-data/$t/$s.jsonl.xz"; done
done
du -sh .device/gpu-data
