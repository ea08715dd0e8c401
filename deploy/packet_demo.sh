#!/usr/bin/env bash
# The packet tool end to end (no nodes, no models): 
# the LIP v1 packet tool on the sample tensor shipped in
# the repo (tests/data/lip-v1/sample_soft_tokens_8x512.npy, M=8 soft tokens of
# width d=512): encode in every wire dtype, show sizes and round-trip error,
# inspect a packet, and show a corrupted packet being refused.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LIP_BUILD_DIR:-build}
bash deploy/setup.sh
LIP_TARGETS=lipctl bash deploy/build.sh
LIPCTL="$BUILD_DIR/client/lipctl"
SAMPLE=tests/data/lip-v1/sample_soft_tokens_8x512.npy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo
echo "== 1. encode $SAMPLE (8 x 512 fp32 = 16384 bytes) in every wire dtype"
printf '%-6s %11s %13s %15s %19s\n' dtype wire_bytes payload_bytes max_abs_error relative_rms_error
for dtype in fp32 fp16 bf16 int8; do
  "$LIPCTL" packet encode --input "$SAMPLE" --dtype "$dtype" --out "$work/$dtype.bin" \
      --sender demo/sender-llama --receiver demo/receiver-qwen2 --bridge demo-bridge \
      --labels world,sports,business,sci/tech --context-prefix "Topic:" --anchor "Answer:" > "$work/$dtype.json"
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = r["round_trip"]
print("%-6s %11d %13d %15.3g %19.3g" % (r["dtype"], r["wire_bytes"], r["payload_bytes"], t["max_abs_error"], t["relative_rms_error"]))
' "$work/$dtype.json"
done

echo
echo "== 2. inspect the fp16 packet (header as JSON)"
"$LIPCTL" packet inspect "$work/fp16.bin" --compare "$SAMPLE"

echo
echo "== 3. flip one payload bit and inspect again: refused"
python3 -c '
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[len(data) // 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(data))
' "$work/fp16.bin" "$work/corrupt.bin"
set +e
"$LIPCTL" packet inspect "$work/corrupt.bin" > "$work/corrupt.json"
status=$?
set -e
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("valid=%s code=%s reason=%s\nmessage: %s" % (r["valid"], r["code"], r["reason"], r["message"]))
' "$work/corrupt.json"
echo "lipctl exit status: $status (1 = bad packet)"
if [ "$status" -ne 1 ]; then
  echo "demo: expected the corrupted packet to be refused" >&2
  exit 1
fi

echo
echo "== 4. a packet from a future major version (golden vector): refused with FAILED_PRECONDITION"
set +e
"$LIPCTL" packet inspect tests/data/lip-v1/bad_version_major2.bin > "$work/v2.json" 2> /dev/null
set -e
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("code=%s reason=%s: %s" % (r["code"], r["reason"], r["message"]))
' "$work/v2.json"
echo
echo "demo: done (docs/protocol.md describes the format)"
