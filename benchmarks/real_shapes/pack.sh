#!/usr/bin/env bash
# Here (beside ../shared): copies what the real-shape benchmark needs of the two real models — their
# config.json and tokenizer files, no weights — into .device/real-shapes/{llama31-8b,mistral-7b}
# (git-ignored, about 12 MB) for a device call that carries .device. Skips with a message when
# ../shared/models is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=../shared/models
[ -d "$SRC" ] || { echo "pack.sh: $SRC is missing; the real-shape benchmark needs the models' configs" >&2; exit 0; }
DST=.device/real-shapes
mkdir -p "$DST/llama31-8b" "$DST/mistral-7b"
for f in config.json generation_config.json tokenizer.json tokenizer_config.json special_tokens_map.json; do
  cp -f "$SRC/meta-llama--Llama-3.1-8B-Instruct/$f" "$DST/llama31-8b/"
  cp -f "$SRC/mistralai--Mistral-7B-v0.1/$f" "$DST/mistral-7b/"
done
du -sh "$DST"
