#!/usr/bin/env bash
# Creates/updates the Python venv at <repo>/.venv from scripts/requirements.txt.
# Idempotent and fast when up to date: a stamp holds the hash of the requirements file, this
# script and the Python version; nothing is installed when it matches. Safe to run concurrently
# (serialised with flock). Env: PYTHON (interpreter to create the venv with, default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/scripts/requirements.txt"
STAMP="$VENV/.requirements.stamp"
PY="${PYTHON:-python3}"

want="$( { cat "$REQ" "${BASH_SOURCE[0]}"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
up_to_date() { [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; }
up_to_date && exit 0

mkdir -p "$ROOT/.cache"
exec 9>"$ROOT/.cache/venv.lock"
flock 9
up_to_date && exit 0   # another process finished it while we waited

if [ ! -x "$VENV/bin/python" ]; then
  echo "venv.sh: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
echo "venv.sh: installing $REQ" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
