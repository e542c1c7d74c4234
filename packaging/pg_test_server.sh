#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the store tests.
# Usage: source packaging/pg_test_server.sh DIR   (exports CORRSTUDIO_TEST_PG_URL;
#        call cs_pg_stop when done). Prints a warning and exports nothing when
#        PostgreSQL is not installed.
cs_pg_dir="$1/pg"
cs_pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
cs_pg_port="${CORRSTUDIO_TEST_PG_PORT:-55432}"

cs_pg_as() {  # run a command as the postgres user when we are root
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

cs_pg_stop() {
  [ -n "${cs_pg_bin:-}" ] && [ -d "$cs_pg_dir" ] &&
    cs_pg_as "'$cs_pg_bin/pg_ctl' -D '$cs_pg_dir' -m immediate stop" >/dev/null 2>&1 || true
}

if [ -z "$cs_pg_bin" ]; then
  echo "[corrstudio test] PostgreSQL not installed: store tests run on SQLite only" >&2
else
  mkdir -p "$cs_pg_dir"
  chmod 755 "$1"
  [ "$(id -u)" -eq 0 ] && chown postgres "$cs_pg_dir"
  cs_pg_as "'$cs_pg_bin/initdb' -D '$cs_pg_dir' -A trust -U postgres" >/dev/null
  cs_pg_as "'$cs_pg_bin/pg_ctl' -D '$cs_pg_dir' -l '$cs_pg_dir/server.log' -w \
    -o \"-c listen_addresses=127.0.0.1 -p $cs_pg_port -k '$cs_pg_dir' -c max_connections=200 -c fsync=on\" start" >/dev/null
  export CORRSTUDIO_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$cs_pg_port/postgres"
  echo "[corrstudio test] PostgreSQL $(basename "$(dirname "$cs_pg_bin")") on 127.0.0.1:$cs_pg_port" >&2
fi
