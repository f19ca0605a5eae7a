#!/usr/bin/env bash
# Build the base image batpass-base:bookworm from Debian's packages when it is missing: no image
# can be pulled from a registry here, so a minimal Debian bookworm is bootstrapped with
# debootstrap (from the mirror apt already uses) and imported. It holds python3 (3.11) and
# python3-venv, which the Dockerfile's stages build on.
set -euo pipefail
IMAGE=${BASE_IMAGE:-batpass-base:bookworm}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi
# the Debian mirror apt uses on this machine (deb822 sources or a classic sources.list)
mirror=$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+/debian/?' \
  /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^[:space:]]+' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/batpass-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "bootstrapping Debian bookworm from $mirror into $IMAGE (once; a few minutes)" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# apt's lists and caches are not needed at run time; the Dockerfile's stages fetch their own
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "built $IMAGE" >&2
