#!/usr/bin/env bash
# Makes the Debian 12 (bookworm) base image that deploy/docker/Dockerfile builds FROM,
# without any container registry: debootstrap a minimal root file system and
# `docker import` it. Needs root, debootstrap and a running Docker daemon.
#
#   bash deploy/docker/make_base_image.sh [IMAGE_TAG]     # default: lip-debian:12
#
# The Debian mirror is the one this machine's apt sources point at (override
# with LIP_DEBIAN_MIRROR / LIP_DEBIAN_SECURITY_MIRROR), so the image sees the
# same package versions as the host.
set -euo pipefail

TAG=${1:-lip-debian:12}
SUITE=bookworm

host_mirror() {
  # First "URIs:" (deb822) or "deb URL" line that serves the main suite.
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
  local f
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^URIs:/      { uri = $2 }
      /^Suites:/    { for (i = 2; i <= NF; i++) if ($i == suite && uri ~ /\/debian\/?$/) { print uri; exit } }
      /^deb[ \t]/   { if ($3 == suite && $2 ~ /\/debian\/?$/) { print $2; exit } }
    ' "$f"
  done | head -n 1
}

MIRROR=${LIP_DEBIAN_MIRROR:-$(host_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${LIP_DEBIAN_SECURITY_MIRROR:-${MIRROR}-security}

if [ "$(id -u)" -ne 0 ]; then echo "make_base_image: run as root (debootstrap needs it)" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "make_base_image: apt-get install debootstrap" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "make_base_image: no Docker daemon (start dockerd)" >&2; exit 1; }

ROOTFS=$(mktemp -d /tmp/lip-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

echo "make_base_image: debootstrap $SUITE from $MIRROR into $ROOTFS"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR"

cat > "$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
# Keep the image small: no cached .debs, no apt lists (the Dockerfile runs apt-get update).
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

echo "make_base_image: importing as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . | docker import - "$TAG"
docker run --rm --network host "$TAG" cat /etc/debian_version
