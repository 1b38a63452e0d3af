#!/usr/bin/env bash
# Tears down a cluster made by scripts/start-postgres.sh: stops the server and removes its
# directory. Argument: the BASE_DIR, or the URL start-postgres.sh printed (looked up among
# /tmp/lakehouse-pg.*). Safe to run twice.
set -euo pipefail

arg="${1:?usage: stop-postgres.sh BASE_DIR|URL}"
base=""
if [ -d "$arg" ]; then
  base="$arg"
elif [[ "$arg" =~ ^postgres(ql)?:// ]]; then
  port=$(sed -E 's#^[a-z]+://[^/]*:([0-9]+).*#\1#' <<<"$arg")
  for f in /tmp/lakehouse-pg.*/port; do
    [ -f "$f" ] && [ "$(cat "$f")" = "$port" ] && base=$(dirname "$f") && break
  done
  [ -n "$base" ] || { echo "stop-postgres: no cluster found for $arg" >&2; exit 0; }
else
  echo "stop-postgres: $arg: no such cluster directory" >&2
  exit 0
fi

# Only ever delete something that start-postgres.sh made.
if [ ! -f "$base/data/PG_VERSION" ] && [ ! -f "$base/port" ]; then
  echo "stop-postgres: $base does not look like a start-postgres.sh cluster; not touching it" >&2
  exit 1
fi

if [ -f "$base/data/postmaster.pid" ]; then
  bindir=$(cat "$base/bindir" 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  cd "$base"
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bindir/pg_ctl" -D "$base/data" -m immediate -w -s stop >&2 || true
  else
    "$bindir/pg_ctl" -D "$base/data" -m immediate -w -s stop >&2 || true
  fi
  cd /
fi
rm -rf "$base"
