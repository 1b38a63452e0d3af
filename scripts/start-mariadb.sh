#!/usr/bin/env bash
# Creates and starts a THROWAWAY MariaDB server and prints its admin URL on stdout.
#
#   scripts/start-mariadb.sh [BASE_DIR]   -> mysql://lh_admin:PASSWORD@127.0.0.1:PORT/
#   scripts/start-mariadb.sh --stop BASE_DIR   stops it and removes BASE_DIR
#
# Everything lives under BASE_DIR (default: a fresh /tmp/lakehouse-mariadb.XXXXXX): data, log,
# socket, pid file. The server listens on 127.0.0.1 on a free port with real authentication
# (grant tables on): the admin account `lh_admin` has a random password, so tests exercise
# password logins as a real deployment does. Durability is off (tests only). As root the server
# runs as root (--user=root). If no server is installed, installs Debian's `mariadb-server`
# (root only). Progress and errors go to stderr.
set -euo pipefail

if [ "${1:-}" = "--stop" ]; then
  base="${2:?usage: start-mariadb.sh --stop BASE_DIR}"
  if [ -f "$base/pid" ]; then
    pid=$(cat "$base/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$base"
  exit 0
fi

# shellcheck source=lib/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cluster.sh"

find_server() {
  command -v mariadbd 2>/dev/null || { [ -x /usr/sbin/mariadbd ] && echo /usr/sbin/mariadbd; } || return 1
}

server=$(ensure_installed start-mariadb mariadbd mariadb-server /tmp/lakehouse-mariadb-install.lock find_server)
installdb=$(command -v mariadb-install-db || command -v mysql_install_db)
client=$(command -v mariadb || command -v mysql)
admin_tool=$(command -v mariadb-admin || command -v mysqladmin)

cluster_dir start-mariadb mariadb.log /tmp/lakehouse-mariadb.XXXXXX "${1:-}"
base="$CLUSTER_DIR"
user_opt=()
if [ "$(id -u)" -eq 0 ]; then user_opt=(--user=root); fi

"$installdb" --no-defaults "${user_opt[@]}" --datadir="$base/data" --auth-root-authentication-method=normal \
  --skip-test-db >"$base/install.log" 2>&1 || { cat "$base/install.log" >&2; cluster_fail "mariadb-install-db failed"; }

sock="$base/mariadb.sock"
port=""
for _ in 1 2 3; do
  p=$(pick_port)
  # setsid: the server must not die with the shell that started it.
  setsid "$server" --no-defaults "${user_opt[@]}" --datadir="$base/data" --socket="$sock" --port="$p" \
    --bind-address=127.0.0.1 --pid-file="$base/mariadb.pid" --log-error="$base/mariadb.log" \
    --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --character-set-server=utf8mb4 \
    --max-connections=200 </dev/null >/dev/null 2>&1 &
  echo $! >"$base/pid"
  for _ in $(seq 1 300); do
    if "$admin_tool" --no-defaults -uroot --socket="$sock" ping >/dev/null 2>&1; then port=$p; break; fi
    kill -0 "$(cat "$base/pid")" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] && break
done
[ -n "$port" ] || cluster_fail "could not start mariadbd"

password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
"$client" --no-defaults -uroot --socket="$sock" -e "
  CREATE USER 'lh_admin'@'127.0.0.1' IDENTIFIED BY '$password';
  GRANT ALL PRIVILEGES ON *.* TO 'lh_admin'@'127.0.0.1' WITH GRANT OPTION;" >&2 || cluster_fail "could not create the admin user"

url="mysql://lh_admin:${password}@127.0.0.1:${port}/"
echo "$port" >"$base/port"
echo "$url" >"$base/url"
echo "$url"
