#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432, trust auth, database `test`) answers.
# Starts the cluster if it is down; installs it from Debian's packages if it is missing.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# the client programs: pg_isready below, and pg_dump, pg_restore and psql, which `batpass backup`
# and `batpass restore` run for a PostgreSQL node (Debian's postgresql package brings them too)
if ! { command -v pg_isready && command -v pg_dump && command -v pg_restore && command -v psql; } >/dev/null; then
  echo "installing the PostgreSQL client programs from Debian's packages" >&2
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-client >/dev/null
fi
if command -v pg_isready >/dev/null && ready; then exit 0; fi
if [ ! -d /etc/postgresql ] || [ -z "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
  echo "installing PostgreSQL from Debian's packages" >&2
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
ver=$(ls /etc/postgresql | sort -V | tail -n 1)
conf=/etc/postgresql/$ver/main
# trust auth on loopback and a `test` database, as the test suite expects
if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
  $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf/pg_hba.conf"
fi
$SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
for _ in $(seq 1 60); do ready && break; sleep 0.5; done
ready || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
