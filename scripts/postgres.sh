#!/usr/bin/env bash
# Start a local PostgreSQL for the SQL-catalog test and print the export line:
#   eval "$(scripts/postgres.sh)"     # sets HSI_TEST_POSTGRES_URL
# Installs Debian's postgresql when missing (needs root). Progress goes to stderr.
set -euo pipefail
log() { echo "[postgres] $*" >&2; }
if [ ! -d /usr/lib/postgresql ]; then
  log "installing postgresql (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >&2
fi
pg_ctlcluster "$ver" main start >&2 2>/dev/null || true
for _ in $(seq 20); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='hsi'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE hsi LOGIN PASSWORD 'hsi'\"" >&2
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='hsi'\"" | grep -q 1 \
  || su postgres -c "createdb -O hsi hsi" >&2
echo "export HSI_TEST_POSTGRES_URL='postgres://hsi:hsi@127.0.0.1:5432/hsi'"
