#!/usr/bin/env bash
# Apache Iceberg's Spark runtime (iceberg-spark-runtime-3.5_2.12, one shaded jar ~45 MB) from Maven
# Central, pinned and SHA-1 checked, cached under ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/spark.
# PySpark itself (the matching Spark 3.5.x, Java 17 OK) comes from scripts/requirements.txt (.venv).
#
# Usage: scripts/spark/runtime-jar.sh [--prepare]
#   (no flag)   download if missing, print the jar's absolute path
#   --prepare   CI warm-up: download the jar and check that .venv's pyspark matches; prints the path
# Needs: curl, sha1sum, flock.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${LAKEHOUSE_CACHE:-${HOME:-/tmp}/.cache/lakehouse}/spark"
# shellcheck source=../lib/fetch.sh
. "$ROOT/scripts/lib/fetch.sh"
ICEBERG=1.10.1
SPARK_MINOR=3.5
SHA1=6e4f43ae82d2291fa38c7a8fc1a46fbf95e8190f
NAME="iceberg-spark-runtime-${SPARK_MINOR}_2.12"
REL="org/apache/iceberg/$NAME/$ICEBERG/$NAME-$ICEBERG.jar"
JAR="$CACHE/$NAME-$ICEBERG.jar"

PREPARE=0
if [ "${1:-}" = "--prepare" ]; then PREPARE=1; shift; fi

if [ ! -f "$JAR" ]; then
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  verified_download "$MAVEN/$REL" "$SHA1" "$JAR" spark/runtime-jar.sh
  exec 9>&-
fi

if [ "$PREPARE" = 1 ]; then
  PY="$ROOT/.venv/bin/python"
  v="$("$PY" -c 'import pyspark; print(pyspark.__version__)')"
  case "$v" in
    "$SPARK_MINOR".*) ;;
    *) echo "spark/runtime-jar.sh: .venv has pyspark $v, $NAME needs $SPARK_MINOR.x" >&2; exit 1 ;;
  esac
fi
echo "$JAR"
