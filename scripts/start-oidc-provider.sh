#!/usr/bin/env bash
# A real OpenID provider for the console's sign-in tests (scripts/oidc-provider: zitadel/oidc's
# example OP with the console registered as a public PKCE client).
#
#   scripts/start-oidc-provider.sh --prepare   builds it once (go mod download + go build, ~1 min
#                                              on a fresh machine) and prints the binary's path
#   scripts/start-oidc-provider.sh --check     exit 0 when it is built
#   scripts/start-oidc-provider.sh [ARGS...]   builds it if needed, then runs it in the foreground;
#                                              it prints "oidc provider listening on <issuer>"
#                                              (127.0.0.1, a free port; ARGS: -port N, -client ID)
#
# The binary is cached under ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/oidc-provider, keyed by the
# hash of the sources, so a change to main.go or go.mod rebuilds it. Needs Go (PATH or
# /usr/local/go/bin). Progress and errors go to stderr.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/oidc-provider" && pwd)"
cache="${LAKEHOUSE_CACHE:-$HOME/.cache/lakehouse}/oidc-provider"
mkdir -p "$cache"

hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)
bin="$cache/oidc-provider-$hash"

build() {
  local go
  go=$(command -v go || true)
  [ -n "$go" ] || go=/usr/local/go/bin/go
  [ -x "$go" ] || { echo "start-oidc-provider: Go is not installed (PATH or /usr/local/go/bin)" >&2; exit 1; }
  # One build at a time (parallel test workers, CI prepare); the loser finds the binary made.
  exec 9>"$cache/build.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    local t0=$SECONDS
    echo "start-oidc-provider: building $bin" >&2
    (cd "$src" && "$go" mod download && "$go" build -o "$bin.tmp" .) >&2
    mv "$bin.tmp" "$bin"
    echo "start-oidc-provider: built in $((SECONDS - t0)) s" >&2
  fi
  flock -u 9
}

if [ "${1:-}" = "--check" ]; then [ -x "$bin" ]; exit $?; fi
[ -x "$bin" ] || build
if [ "${1:-}" = "--prepare" ]; then
  echo "$bin"
  exit 0
fi
exec "$bin" "$@"
