#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds the nodes, then runs
# deploy/nodes_demo.sh — a registry, a receiver (demo receiver-qwen2) and a sender (demo sender-llama) on
# 127.0.0.1 with fresh mTLS certificates, the shipped demo bridge published and fetched, two dozen AG News
# test messages sent three ways (latent packets, text relay where the sender writes up to 32 tokens, and
# direct text), a short throughput run per path, and everything stopped cleanly.
#   bash deploy/demo.sh [BRIDGE_DIR]     (default: demo/bridges/demo-ag_news)
# deploy/packet_demo.sh shows the packet tool alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec bash deploy/nodes_demo.sh "$@"  # builds the nodes through deploy/build.sh
