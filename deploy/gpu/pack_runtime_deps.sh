#!/usr/bin/env bash
# Here (Debian 12, beside ../shared): packs the smallest carry for benchmarks/gpu_runtime_bench.sh into
# .device/lip-gpu (git-ignored, about 1.1 MB): Abseil's headers and shared libraries and
# nlohmann-json's headers (runtime-deps.tar.xz), the Llama-3.1-8B and Mistral-7B config.json files and
# the held-out parity texts. Small enough to travel beside a working tree that is already near the
# device tool's 64 MiB (the tracked demo models); the gRPC nodes need deploy/gpu/pack_deps.sh instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
DST=.device/lip-gpu; TMP=$(mktemp -d)
mkdir -p "$DST"
(cd "$TMP" && apt-get download libabsl-dev libabsl20220623 nlohmann-json3-dev > /dev/null 2>&1)
for f in "$TMP"/*.deb; do dpkg -x "$f" "$TMP/root"; done
mkdir -p "$TMP/pack/include" "$TMP/pack/lib"
cp -a "$TMP/root/usr/include/absl" "$TMP/root/usr/include/nlohmann" "$TMP/pack/include/"
cp -a "$TMP"/root/usr/lib/x86_64-linux-gnu/libabsl_*.so* "$TMP/pack/lib/"
tar cf - -C "$TMP/pack" . | xz -9e > "$DST/runtime-deps.tar.xz"
rm -rf "$TMP"
if [ -d ../shared/models ]; then
  cp -f ../shared/models/meta-llama--Llama-3.1-8B-Instruct/config.json "$DST/llama31_8b_config.json"
  cp -f ../shared/models/mistralai--Mistral-7B-v0.1/config.json "$DST/mistral_7b_config.json"
  /usr/bin/python3 tests/data/models/bf16_parity_demo.py texts ../shared "$DST/heldout_texts.jsonl" > /dev/null
else
  echo "pack_runtime_deps.sh: ../shared/models is missing: no model configs or parity texts packed" >&2
fi
du -sh "$DST"; ls -la "$DST"
