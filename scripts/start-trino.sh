#!/usr/bin/env bash
# Runs a real single-node Trino (coordinator that also schedules work on itself) bound to 127.0.0.1,
# with one catalog `lakehouse` (Iceberg connector, REST catalog = our service), for tests.
# Downloads from Maven Central (SHA-1 checked) io.trino:trino-server-core (the server without
# plugins, ~185 MiB) and io.trino:trino-iceberg (the Iceberg plugin, ~330 MiB), extracted under
# ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/trino (~570 MiB on disk, downloaded once; the first run adds a
# ~100 MiB class-data archive). Only the Iceberg plugin is loaded (the core's other plugins are
# skipped: faster start).
#
# Trino 476 needs Java 24+: TRINO_JAVA_HOME, else JAVA_HOME when it is new enough, else
# /usr/lib/jvm/temurin-25* (the default Java 17 here cannot run it).
#
# Usage: scripts/start-trino.sh --prepare
#        scripts/start-trino.sh --check    exit 0 when prepared (downloaded) and a Java 24+ is found
#        scripts/start-trino.sh --rest URI [--credential ID:SECRET] [--data DIR] [--port N] [--prop K=V]...
#   --rest        the Iceberg REST catalog URI (our service's base URL; Trino appends /v1/...)
#   --credential  OAuth2 client credentials for {URI}/v1/oauth/tokens (none: no auth)
#   --data        node data + etc dir (default: a new temp dir, removed by the caller)
#   --port        HTTP port, 0 = any free port (default 0)
#   --prop        extra catalog property, repeatable (default file system: the local one, for
#                 file:// warehouses; pass fs.native-s3.enabled=true + s3.* for S3)
# Prints "TRINO http://127.0.0.1:<port>" once the server has started (logs go to stdout/stderr), then
# runs until stdin reaches EOF or it is signalled (the JVM goes with it).
# Needs: curl, unzip, tar, flock, node (to pick a free port).
set -euo pipefail
CACHE="${LAKEHOUSE_CACHE:-${HOME:-/tmp}/.cache/lakehouse}/trino"
# 476 is the newest version of which both artifacts are on Maven Central (483 has no server tarball).
TRINO=476
CORE_SHA1=6bae2db438f8e6a2a8d9c8b566bb5e5b05870138
ICEBERG_SHA1=6a9841be7b21c71110a1efc3a98e5dd833b20a8e
SERVER="$CACHE/trino-server-core-$TRINO"
PLUGINS="$CACHE/plugins-$TRINO"

# shellcheck source=lib/fetch.sh
. "$(dirname "$0")/lib/fetch.sh"
fetch() { # url sha1 dest
  verified_download "$1" "$2" "$3" start-trino.sh || exit 1
}

prepare() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -f "$SERVER/.ready" ]; then
    local tgz="$CACHE/core-$TRINO.tar.gz"
    fetch "$MAVEN/io/trino/trino-server-core/$TRINO/trino-server-core-$TRINO.tar.gz" "$CORE_SHA1" "$tgz"
    rm -rf "$SERVER" "$SERVER.tmp"; mkdir -p "$SERVER.tmp"
    tar -xzf "$tgz" -C "$SERVER.tmp" --strip-components=1
    rm -f "$tgz"; touch "$SERVER.tmp/.ready"; mv "$SERVER.tmp" "$SERVER"
  fi
  if [ ! -f "$PLUGINS/.ready" ]; then
    local zip="$CACHE/iceberg-$TRINO.zip"
    fetch "$MAVEN/io/trino/trino-iceberg/$TRINO/trino-iceberg-$TRINO.zip" "$ICEBERG_SHA1" "$zip"
    rm -rf "$PLUGINS" "$PLUGINS.tmp"; mkdir -p "$PLUGINS.tmp"
    unzip -q "$zip" -d "$PLUGINS.tmp"
    mv "$PLUGINS.tmp/trino-iceberg-$TRINO" "$PLUGINS.tmp/iceberg"
    rm -f "$zip"; touch "$PLUGINS.tmp/.ready"; mv "$PLUGINS.tmp" "$PLUGINS"
  fi
  exec 9>&-
}

find_java() {
  local cand
  for cand in "${TRINO_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/*-24-*; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] || continue
    local v; v="$("$cand/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [ "${v%%.*}" -ge 24 ] 2>/dev/null; then echo "$cand/bin/java"; return 0; fi
  done
  echo "start-trino.sh: Trino $TRINO needs Java 24 or newer; set TRINO_JAVA_HOME (found none in JAVA_HOME or /usr/lib/jvm)" >&2
  return 1
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Sized for a 2-core test machine (small heap, few threads); loopback only: the node would otherwise
# announce the first non-loopback address it finds.
server_config() { # dataDir port
  mkdir -p "$1/etc/catalog" "$1/var"
  cat > "$1/etc/config.properties" <<PROPS
node.environment=lakehouse_test
node.id=lakehouse-trino-1
node.internal-address=127.0.0.1
node.bind-ip=127.0.0.1
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$2
discovery.uri=http://127.0.0.1:$2
plugin.dir=$PLUGINS
catalog.config-dir=$1/etc/catalog
query.max-memory=600MB
query.max-memory-per-node=600MB
task.concurrency=2
task.max-worker-threads=4
PROPS
  echo "io.trino=WARN" > "$1/etc/log.properties"
}

# Class data sharing: the first run of a JDK writes an archive of the classes the server loaded (at
# exit), later runs map it instead of parsing ~170 jars again (the JVM rebuilds it if stale).
start_jvm() { # dataDir → JPID
  local jsa; jsa="$CACHE/trino-$TRINO-$("$JAVA" -version 2>&1 | head -1 | tr -dc 'A-Za-z0-9.')-$(id -u).jsa"
  # var/ (request log, spill) lands under the working directory.
  (cd "$1" && exec "$JAVA" -Xms256m -Xmx1500m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
    -XX:SharedArchiveFile="$jsa" -XX:+AutoCreateSharedArchive -Xlog:cds*=error \
    -XX:ReservedCodeCacheSize=128M -XX:-OmitStackTraceInFastThrow -XX:+EnableDynamicAgentLoading \
    -Djdk.attach.allowAttachSelf=true -Dfile.encoding=UTF-8 -Djava.net.preferIPv4Stack=true \
    -Dconfig="$1/etc/config.properties" -Dlog.levels-file="$1/etc/log.properties" \
    -cp "$SERVER/lib/*" io.trino.server.TrinoServer < /dev/null) &
  JPID=$!
}

started() { curl -fsS "http://127.0.0.1:$1/v1/info" 2>/dev/null | grep -q '"starting":false'; }

# --prepare also starts the server once without catalogs and stops it, so the class-data archive
# exists before the first real start (a start then takes a third of the time).
warm() {
  ls "$CACHE"/trino-"$TRINO"-*-"$(id -u)".jsa >/dev/null 2>&1 && return 0
  local dir port i
  dir="$(mktemp -d -t lakehouse-trino-warm.XXXXXX)"; port="$(free_port)"
  server_config "$dir" "$port"
  start_jvm "$dir"
  for i in $(seq 1 600); do started "$port" && break; kill -0 "$JPID" 2>/dev/null || break; sleep 0.5; done
  kill "$JPID" 2>/dev/null || true
  wait "$JPID" 2>/dev/null || true
  rm -rf "$dir"
}

if [ "${1:-}" = "--prepare" ]; then prepare; JAVA="$(find_java)"; warm; exit 0; fi
if [ "${1:-}" = "--check" ]; then [ -f "$SERVER/.ready" ] && [ -f "$PLUGINS/.ready" ] && find_java >/dev/null; exit $?; fi

REST="" CRED="" DATA="" PORT=0 PROPS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rest) REST="$2"; shift 2 ;;
    --credential) CRED="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --prop) PROPS+=("$2"); shift 2 ;;
    *) echo "start-trino.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$REST" ] || { echo "start-trino.sh: --rest URI is required" >&2; exit 2; }
prepare
JAVA="$(find_java)"
[ -n "$DATA" ] || DATA="$(mktemp -d -t lakehouse-trino.XXXXXX)"
[ "$PORT" = 0 ] && PORT="$(free_port)"
server_config "$DATA" "$PORT"

{
  echo "connector.name=iceberg"
  echo "iceberg.catalog.type=rest"
  echo "iceberg.rest-catalog.uri=$REST"
  if [ -n "$CRED" ]; then
    echo "iceberg.rest-catalog.security=OAUTH2"
    echo "iceberg.rest-catalog.oauth2.credential=$CRED"
    echo "iceberg.rest-catalog.oauth2.scope=catalog"
  fi
  local_fs=1
  for p in ${PROPS[@]+"${PROPS[@]}"}; do
    case "$p" in fs.native-*|fs.hadoop.*) local_fs=0 ;; esac
  done
  if [ "$local_fs" = 1 ]; then
    # Our warehouse paths are file:// URIs; Trino's local file system serves file:// and local://
    # paths under local.location (a directory; here the root, so a location maps to the same path).
    echo "fs.native-local.enabled=true"
    echo "local.location=/"
  fi
  for p in ${PROPS[@]+"${PROPS[@]}"}; do echo "$p"; done
} > "$DATA/etc/catalog/lakehouse.properties"

start_jvm "$DATA"
trap 'kill "$JPID" ${WATCH:-} 2>/dev/null || true; wait "$JPID" 2>/dev/null || true' EXIT
trap 'exit 143' TERM INT

# Ready when the server is out of its starting phase (catalogs load before that).
(
  while kill -0 "$JPID" 2>/dev/null; do
    if started "$PORT"; then echo "TRINO http://127.0.0.1:$PORT"; exit 0; fi
    sleep 0.5
  done
) &
# Stdin EOF (the test runner went away) or the JVM's own exit ends this script. (A background
# job's stdin would be /dev/null without the explicit redirection.)
( cat > /dev/null; kill "$JPID" 2>/dev/null || true ) <&0 &
WATCH=$!
wait "$JPID"
