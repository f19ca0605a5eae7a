#!/usr/bin/env bash
# System packages the tests use: Debian's chromium (browser tests; never a downloaded browser)
# with a Japanese font (the Japanese pages' screenshots),
# and the npm packages of the cross-implementation tests (installed from the lock file).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v chromium >/dev/null; then
  echo "installing chromium from Debian's packages (browser tests)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=ja)" ]; then
  echo "installing a Japanese font from Debian's packages (screenshots of the Japanese pages)" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-ipafont-gothic >/dev/null
fi
for dir in tests/crossimpl; do
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
done
