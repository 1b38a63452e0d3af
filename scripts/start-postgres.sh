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

base="${1:-}"

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

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "start-postgres: PostgreSQL server binaries not found and not root (install the 'postgresql' package)" >&2
    exit 1
  fi
  echo "start-postgres: installing PostgreSQL (apt-get install postgresql)..." >&2
  (
    # Several test files may get here at once: one installs, the others wait.
    exec 9>/tmp/lakehouse-pg-install.lock
    flock 9 2>/dev/null || true
    if ! find_bindir >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq -o DPkg::Lock::Timeout=600 postgresql >&2
    fi
  )
  bindir=$(find_bindir) || { echo "start-postgres: PostgreSQL still not found after install" >&2; exit 1; }
fi

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

created_base=0
if [ -z "$base" ]; then
  base=$(mktemp -d /tmp/lakehouse-pg.XXXXXX)
  created_base=1
else
  mkdir -p "$base"
fi
base=$(cd "$base" && pwd)
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$base"; fi
chmod 700 "$base"
cd "$base" # postgres must be able to read its working directory

fail() {
  echo "start-postgres: $*" >&2
  [ -f "$base/postgres.log" ] && tail -n 20 "$base/postgres.log" >&2
  if [ "$created_base" -eq 1 ]; then rm -rf "$base"; fi
  exit 1
}

as_pg "$bindir/initdb" -D "$base/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1 \
  || { cat "$base/initdb.log" >&2; fail "initdb failed"; }

pick_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null \
    || python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

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
[ -n "$port" ] || fail "could not start postgres"

url="postgresql://postgres@127.0.0.1:${port}/postgres"
echo "$port" >"$base/port"
echo "$bindir" >"$base/bindir"
echo "$url" >"$base/url"
echo "$url"
