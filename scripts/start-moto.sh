#!/usr/bin/env bash
# Starts a moto S3 server (foreground) on 127.0.0.1:<port> (default 5000), after making sure the
# venv is up to date. The moto process replaces this shell (exec), so its pid is this script's.
# Usage: scripts/start-moto.sh [port]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${1:-5000}"
"$ROOT/scripts/venv.sh"
exec "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$PORT"
