#!/usr/bin/env bash
# Runs Azurite's Blob service (the Azure Storage emulator, npm devDependency `azurite`) on
# 127.0.0.1:<port> for tests, in memory (no files left behind). Loose mode (ignore unsupported
# headers) and no API-version check (the SDK may be newer than the emulator); telemetry off.
# The node process replaces this shell (exec), so its pid is this script's.
# Account: devstoreaccount1, key Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
# Usage: scripts/start-azurite.sh [port]    (default 10000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${1:-10000}"
BIN="$ROOT/node_modules/azurite/dist/src/blob/main.js"
if [ ! -f "$BIN" ]; then
  echo "start-azurite.sh: azurite is not installed (run npm ci)" >&2
  exit 1
fi
WORK="$(mktemp -d -t lakehouse-azurite.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
exec 3<&0
# Not exec: the trap removes the workspace when azurite exits; forward signals to it.
node "$BIN" --blobHost 127.0.0.1 --blobPort "$PORT" --inMemoryPersistence --extentMemoryLimit 1024 \
  --loose --skipApiVersionCheck --disableTelemetry --silent &
CHILD=$!
trap 'kill -TERM "$CHILD" 2>/dev/null || true' TERM INT
# Exit when our stdin closes (the test process went away).
( cat >/dev/null 2>&1 || true; kill -TERM "$CHILD" 2>/dev/null || true ) <&3 &
wait "$CHILD" || true
wait "$CHILD" 2>/dev/null || true
