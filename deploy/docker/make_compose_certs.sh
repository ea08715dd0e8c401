#!/usr/bin/env bash
# Certificates for the compose stack (docker-compose.yml), run by its one-shot `certs` service:
# a fresh CA and one certificate per node whose SANs name the Compose service it serves as
# (DNS:registry, DNS:receiver-1, ...: what the other nodes dial) and the node id it may register
# (lip://node/<id>, docs/nodes.md "Node identity"), plus `admin` for the client and the bridge upload.
#
#   bash deploy/docker/make_compose_certs.sh OUT_DIR
#
# OUT_DIR gets ca.crt and every <name>.crt/.key, never ca.key: the CA key is made in a temporary
# directory and deleted, so nobody can mint more certificates for this stack (make a new set with
# `docker-compose down -v`). Does nothing when OUT_DIR already holds a set, so restarts keep them.
set -euo pipefail
out=${1:?usage: make_compose_certs.sh OUT_DIR}
here=$(cd "$(dirname "$0")/../certs" && pwd)
if [ -f "$out/ca.crt" ] && [ -f "$out/sender.crt" ]; then
  echo "make_compose_certs: certificates already in $out"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$here/make_certs.sh" "$work" admin \
  --san=DNS:registry registry \
  --san=DNS:receiver-1 receiver-1:receiver@receiver-1 \
  --san=DNS:receiver-2 receiver-2:receiver@receiver-2 \
  --san=DNS:sender sender:sender@sender-1
mkdir -p "$out"
for name in admin registry receiver-1 receiver-2 sender; do
  cp "$work/$name.crt" "$work/$name.key" "$out/"
done
cp "$work/ca.crt" "$out/"
echo "make_compose_certs: CA certificate and 5 node certificates in $out (CA key discarded)"
