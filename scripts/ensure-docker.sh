#!/usr/bin/env bash
# Make sure a container engine answers: Debian's docker.io, docker-compose (1.29) and debootstrap
# are installed (from Debian's packages, when missing) and dockerd runs (started in the
# background when `docker info` fails, then waited for). Exit 0 when the engine answers, 1 if not.
# Nothing is pulled from a registry: the base image is built by scripts/build-base-image.sh.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
command -v docker >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} from Debian's packages" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
fi
if docker info >/dev/null 2>&1; then exit 0; fi
log=${DOCKERD_LOG:-/tmp/dockerd.log}
echo "starting dockerd in the background (log: $log)" >&2
# not through systemd: CI machines and containers run none; setsid keeps it out of this job
$SUDO setsid dockerd >"$log" 2>&1 < /dev/null &
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd did not answer within 60 s; see $log" >&2
exit 1
