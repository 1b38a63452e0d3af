#!/usr/bin/env bash
# Runs a real single-process HDFS (MiniDFSCluster: 1 NameNode + 1 DataNode) with WebHDFS, bound to
# 127.0.0.1, for tests. Jars come from Maven Central (pinned, SHA-1 checked) and are cached with the
# compiled launcher under ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/hdfs (~92 MB, downloaded once).
#
# Usage: scripts/start-hdfs.sh [--prepare] [baseDir] [httpPort]
#   --prepare   only download + compile, then exit (for CI warm-up)
#   baseDir     HDFS storage dir (default: a new temp dir, removed by the caller)
#   httpPort    NameNode HTTP (WebHDFS) port, 0 = any free port (default 0)
# Prints "WEBHDFS http://127.0.0.1:<port>" and "HDFS hdfs://127.0.0.1:<rpcPort>" when ready, then
# runs until stdin reaches EOF or it is signalled. Needs: curl, Java 17 JDK (javac), flock.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LAKEHOUSE_CACHE:-${HOME:-/tmp}/.cache/lakehouse}/hdfs"
# shellcheck source=lib/fetch.sh
. "$ROOT/scripts/lib/fetch.sh"
HADOOP=3.4.1

# sha1  path-in-repository
JARS="
7e4cfae7f5c85cffdbc21fdf749262fc78d4463a org/apache/hadoop/hadoop-client-api/$HADOOP/hadoop-client-api-$HADOOP.jar
30ec07ceccb224b2ef17af34fbb593bff3e9e071 org/apache/hadoop/hadoop-client-runtime/$HADOOP/hadoop-client-runtime-$HADOOP.jar
280b1307396459b61079e80c5fc67a5ff1738287 org/apache/hadoop/hadoop-client-minicluster/$HADOOP/hadoop-client-minicluster-$HADOOP.jar
4bfc12adfe4842bf07b657f0369c4cb522955686 commons-logging/commons-logging/1.2/commons-logging-1.2.jar
6c62681a2f655b49963a5983b8b0950a6120ae14 org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar
8ac9e16d933b6fb43bc7f576336b8f4d7eb5ba12 junit/junit/4.13.2/junit-4.13.2.jar
42a25dc3219429f0e5d060061f71acb49bf010a0 org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.jar
8531ad5ac454cc2deb9d4d32c40c4d7451939b5d javax/xml/bind/jaxb-api/2.3.1/jaxb-api-2.3.1.jar
85262acf3ca9816f9537ca47d5adeabaead7cb16 javax/activation/javax.activation-api/1.2.0/javax.activation-api-1.2.0.jar
95076261a51690f95b29e09fd6ff9f8a90381af0 com/sun/xml/bind/jaxb-impl/2.3.9/jaxb-impl-2.3.9.jar
"

PREPARE=0
if [ "${1:-}" = "--prepare" ]; then PREPARE=1; shift; fi

prepare() {
  mkdir -p "$CACHE/jars"
  exec 9>"$CACHE/.lock"
  flock 9
  fetch_maven_jars "$CACHE/jars" start-hdfs.sh <<< "$JARS"
  # Compile the launcher; the class dir is keyed by the source hash.
  local src="$ROOT/scripts/hdfs/MiniHdfs.java"
  local key; key="$(sha1sum "$src" | cut -c1-12)"
  CLASSES="$CACHE/classes-$key"
  if [ ! -f "$CLASSES/MiniHdfs.class" ]; then
    rm -rf "$CLASSES.tmp"; mkdir -p "$CLASSES.tmp"
    javac -nowarn -cp "$CACHE/jars/*" -d "$CLASSES.tmp" "$src"
    rm -rf "$CLASSES"; mv "$CLASSES.tmp" "$CLASSES"
  fi
  exec 9>&-
}

prepare
[ "$PREPARE" = 1 ] && exit 0

BASE="${1:-}"
PORT="${2:-0}"
if [ -z "$BASE" ]; then BASE="$(mktemp -d -t lakehouse-hdfs.XXXXXX)"; fi
exec java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true \
  -cp "$CLASSES:$CACHE/jars/*" MiniHdfs "$BASE" "$PORT"
