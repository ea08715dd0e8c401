#!/usr/bin/env bash
# Here (Debian 12, beside ../shared, after `cmake --build build --target lip-model`): packs the smallest
# carry for benchmarks/gpu_runtime_bench.sh into .device/lip-gpu (git-ignored, about 0.45 MB), small
# enough to travel beside a working tree that is already within half a megabyte of the device tool's
# 64 MiB (the tracked demo models):
#   runtime-deps.tar.xz  the Abseil and nlohmann-json headers that bridge/model, common/wire/sha256 and
#                        lip-model include (found with g++ -M), comments stripped, and absl_min.o: the
#                        Abseil archive members that those objects need (from a link map of the local
#                        build), merged into one relocatable object (Debian's Abseil, 20220623);
#   src.tar.xz           the runtime files of this checkout that differ from main (overlaid there);
#   *_config.json        the Llama-3.1-8B and Mistral-7B configs; heldout_texts.jsonl.xz (parity texts).
# The gRPC nodes need far more (deploy/gpu/pack_deps.sh) than fits beside the demo models.
set -euo pipefail
cd "$(dirname "$0")/../.."
DST=.device/lip-gpu; TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
rm -rf "$DST"; mkdir -p "$DST" "$TMP/pack/include" "$TMP/pack/lib"
SRCS="bridge/model/*.cc common/wire/sha256.cc bridge/tools/model_main.cc"
for f in $SRCS; do
  g++ -std=c++17 -M -DLIP_MODEL_NO_TOKENIZER -I. -isystem /usr/include/torch/csrc/api/include "$f"
done | tr ' \\' '\n\n' | grep -E '^/usr/include/(absl|nlohmann)/' | sort -u > "$TMP/headers"
while read -r h; do
  out="$TMP/pack/include/${h#/usr/include/}"; mkdir -p "$(dirname "$out")"
  /usr/bin/python3 deploy/gpu/strip_comments.py < "$h" > "$out"
done < "$TMP/headers"
OBJS=$(ls build/bridge/CMakeFiles/lip_model.dir/model/*.o build/common/wire/CMakeFiles/lip_wire.dir/sha256.cc.o \
          build/bridge/CMakeFiles/lip-model.dir/tools/model_main.cc.o)
g++ -o "$TMP/a.out" $OBJS -Wl,--start-group /usr/lib/x86_64-linux-gnu/libabsl_*.a -Wl,--end-group \
  -Wl,--unresolved-symbols=ignore-all -Wl,-Map="$TMP/map" > /dev/null 2>&1 || true
grep -o '^/usr/lib/x86_64-linux-gnu/libabsl[a-z_0-9]*\.a([a-z_0-9.]*)' "$TMP/map" | sort -u > "$TMP/members"
n=0
while read -r m; do
  n=$((n + 1)); mkdir -p "$TMP/ex/$n"; a=${m%%(*}; o=${m#*(}; (cd "$TMP/ex/$n" && ar x "$a" "${o%)}")
done < "$TMP/members"
ld -r -o "$TMP/pack/lib/absl_min.o" "$TMP"/ex/*/*.o && strip --strip-debug "$TMP/pack/lib/absl_min.o"
tar cf - -C "$TMP/pack" . | xz -9e > "$DST/runtime-deps.tar.xz"
(git diff --name-only main; git ls-files --others --exclude-standard) | sort -u |
  grep -E '^(bridge/model/|bridge/tools/model_main.cc|benchmarks/gpu_runtime_bench.sh|tests/data/models/)' |
  while read -r f; do if [ -f "$f" ]; then echo "$f"; fi; done > "$TMP/src"
tar cf - -T "$TMP/src" | xz -9e > "$DST/src.tar.xz"
if [ -d ../shared/models ]; then
  cp -f ../shared/models/meta-llama--Llama-3.1-8B-Instruct/config.json "$DST/llama31_8b_config.json"
  cp -f ../shared/models/mistralai--Mistral-7B-v0.1/config.json "$DST/mistral_7b_config.json"
  /usr/bin/python3 tests/data/models/bf16_parity_demo.py texts ../shared "$TMP/texts.jsonl" > /dev/null
  xz -9e -c "$TMP/texts.jsonl" > "$DST/heldout_texts.jsonl.xz"
else
  echo "pack_runtime_deps.sh: ../shared/models is missing: no model configs or parity texts packed" >&2
fi
echo "$(wc -l < "$TMP/headers") headers, $(wc -l < "$TMP/members") Abseil members"; du -sb "$DST"; ls -la "$DST"
