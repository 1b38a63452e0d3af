# Throwaway database servers for the start-*.sh peer scripts (source it): install the server
# when it is missing, make the directory everything of the server lives in, pick a free port,
# and on failure clean up what was made. Progress and errors go to stderr.

# ensure_installed <who> <what> <package> <lock> <finder>: prints the finder's answer; when the
# finder finds nothing and we are root, installs Debian's <package> first. Several test files may
# get here at once: one installs (holding <lock>), the others wait.
ensure_installed() {
  local who="$1" what="$2" pkg="$3" lock="$4" finder="$5" found
  if found=$("$finder"); then echo "$found"; return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: $what not found and not root (install the '$pkg' package)" >&2
    return 1
  fi
  echo "$who: installing $what (apt-get install $pkg)..." >&2
  (
    exec 9>"$lock"
    flock 9 2>/dev/null || true
    if ! "$finder" >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$pkg" >&2
    fi
  )
  "$finder" || { echo "$who: $what still not found after install" >&2; return 1; }
}

# cluster_dir <who> <log> <mktemp-template> [BASE_DIR]: sets CLUSTER_DIR to the absolute
# BASE_DIR (made if missing) or, without one, to a fresh directory from the template, which
# cluster_fail then removes again. <log> is the server's log file name inside it.
cluster_dir() {
  CLUSTER_WHO="$1"
  CLUSTER_LOG="$2"
  CLUSTER_CREATED=0
  if [ -z "${4:-}" ]; then
    CLUSTER_DIR=$(mktemp -d "$3")
    CLUSTER_CREATED=1
  else
    mkdir -p "$4"
    CLUSTER_DIR="$4"
  fi
  CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
}

# cluster_fail <message>: says why, shows the end of the server's log, stops a server whose pid
# is in $CLUSTER_DIR/pid, removes the directory if cluster_dir made it, and exits 1.
cluster_fail() {
  echo "$CLUSTER_WHO: $*" >&2
  [ -f "$CLUSTER_DIR/$CLUSTER_LOG" ] && tail -n 20 "$CLUSTER_DIR/$CLUSTER_LOG" >&2
  [ -f "$CLUSTER_DIR/pid" ] && kill "$(cat "$CLUSTER_DIR/pid")" 2>/dev/null || true
  if [ "$CLUSTER_CREATED" -eq 1 ]; then rm -rf "$CLUSTER_DIR"; fi
  exit 1
}

# pick_port: a port that was free on 127.0.0.1 a moment ago (callers retry if it is taken).
pick_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' 2>/dev/null \
    || python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}
