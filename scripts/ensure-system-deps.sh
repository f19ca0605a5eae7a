#!/usr/bin/env bash
# System packages the tests use: Debian's chromium (browser tests; never a downloaded browser)
# and the npm packages of the cross-implementation tests (installed from the lock file).
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v chromium >/dev/null; then
  echo "installing chromium from Debian's packages (browser tests)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
for dir in tests/crossimpl; do
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
done
