#!/usr/bin/env bash
# Creates and starts a THROWAWAY PostgreSQL cluster and prints its connection URL on stdout.
#
#   scripts/start-postgres.sh [BASE_DIR]      -> postgresql://postgres@127.0.0.1:PORT/postgres
#   scripts/stop-postgres.sh  BASE_DIR|URL    tears it down (server stopped, directory removed)
#
# The cluster lives entirely under BASE_DIR (default: a fresh /tmp/lakehouse-pg.XXXXXX): data,
# log, unix socket. It listens on 127.0.0.1 on a free port with trust auth and durability off
# (fsync, synchronous_commit, full_page_writes) — for tests only. As root, initdb/postgres run as
# the `postgres` user. If no PostgreSQL server binaries are installed, installs Debian's
# `postgresql` package (root only). Progress and errors go to stderr.
set -euo pipefail
# shellcheck source=lib/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"

find_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  fi
  return 1
}

bindir=$(ensure_installed start-postgres "PostgreSQL server binaries" postgresql /tmp/lakehouse-pg-install.lock find_bindir)

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_dir start-postgres postgres.log /tmp/lakehouse-pg.XXXXXX "${1:-}"
base="$CLUSTER_DIR"
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$base"; fi
chmod 700 "$base"
cd "$base" # postgres must be able to read its working directory

as_pg "$bindir/initdb" -D "$base/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1 \
  || { cat "$base/initdb.log" >&2; cluster_fail "initdb failed"; }

port=""
for _ in 1 2 3 4 5; do
  p=$(pick_port)
  if as_pg "$bindir/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w -t 60 -s \
      -o "-p $p -k $base -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >&2; then
    port=$p
    break
  fi
done
[ -n "$port" ] || cluster_fail "could not start postgres"

url="postgresql://postgres@127.0.0.1:${port}/postgres"
echo "$port" >"$base/port"
echo "$bindir" >"$base/bindir"
echo "$url" >"$base/url"
echo "$url"
