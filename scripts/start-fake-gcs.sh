#!/usr/bin/env bash
# Runs fake-gcs-server (a GCS JSON/XML API emulator, Go) on 127.0.0.1 for tests, in memory.
# The binary is built once (`go install`, modules from the Go module proxy, checked against the Go
# checksum database) at a pinned version and cached under ${LAKEHOUSE_CACHE:-~/.cache/lakehouse}/fake-gcs.
#
# Usage: scripts/start-fake-gcs.sh [--prepare] [port]
#   --prepare   only build (for CI warm-up), then exit
#   port        HTTP port (default 4443)
# The server replaces this shell (exec), so its pid is this script's. Needs: curl, python3, flock.
set -euo pipefail
CACHE="${LAKEHOUSE_CACHE:-${HOME:-/tmp}/.cache/lakehouse}/fake-gcs"
VERSION=v1.56.1
BIN="$CACHE/bin-$VERSION/fake-gcs-server"

PREPARE=0
if [ "${1:-}" = "--prepare" ]; then PREPARE=1; shift; fi

# fake-gcs-server's go.mod needs Go >= 1.26. Debian's golang-go (1.19) is too old and cannot
# switch toolchains, so when no new-enough `go` is installed we fetch the official Go toolchain
# from the Go module proxy (module golang.org/toolchain, what GOTOOLCHAIN=auto itself downloads),
# pinned by SHA-256, into the cache.
GO_TOOLCHAIN=1.26.8
# sha256  GOARCH
GO_TOOLCHAIN_SUMS="
30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7 amd64
02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99 arm64
"
GOPROXY_URL="${GOPROXY_URL:-https://proxy.golang.org}"

go_ok() { # $1 = go binary; true when it is >= 1.26
  local v; v="$("$1" env GOVERSION 2>/dev/null | sed 's/^go//')" || return 1
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "1.26" "$v" | sort -V | head -1)" = "1.26" ]
}

find_go() {
  local g
  for g in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -n "$g" ] && [ -x "$g" ] && GOTOOLCHAIN=local go_ok "$g"; then echo "$g"; return 0; fi
  done
  local arch; case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) arch=unknown ;; esac
  local dir="$CACHE/go$GO_TOOLCHAIN.linux-$arch"
  if [ ! -x "$dir/bin/go" ]; then
    local sum; sum="$(awk -v a="$arch" '$2 == a {print $1}' <<< "$GO_TOOLCHAIN_SUMS")"
    if [ -z "$sum" ]; then echo "start-fake-gcs.sh: no Go toolchain pinned for $(uname -m)" >&2; return 1; fi
    echo "start-fake-gcs.sh: downloading Go $GO_TOOLCHAIN toolchain (~70 MB) from $GOPROXY_URL" >&2
    local zip="$CACHE/toolchain.zip.part"
    curl -fsSL --retry 3 --retry-delay 2 -o "$zip" \
      "$GOPROXY_URL/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN.linux-$arch.zip"
    if [ "$(sha256sum "$zip" | cut -c1-64)" != "$sum" ]; then
      rm -f "$zip"; echo "start-fake-gcs.sh: SHA-256 mismatch for the Go toolchain" >&2; return 1
    fi
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    (cd "$dir.tmp" && python3 -m zipfile -e "$zip" .)
    rm -f "$zip"
    mv "$dir.tmp/golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN.linux-$arch" "$dir.new"
    rm -rf "$dir.tmp"
    # Module zips carry no file modes.
    chmod -R u+rwX,go+rX "$dir.new"
    chmod +x "$dir.new"/bin/* "$dir.new"/pkg/tool/*/*
    rm -rf "$dir"; mv "$dir.new" "$dir"
  fi
  echo "$dir/bin/go"
}

prepare() {
  [ -x "$BIN" ] && return 0
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -x "$BIN" ]; then
    local GO; GO="$(find_go)"
    echo "start-fake-gcs.sh: building fake-gcs-server@$VERSION with $GO (one-time)" >&2
    rm -rf "$CACHE/bin-$VERSION.tmp"
    GOBIN="$CACHE/bin-$VERSION.tmp" GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gobuild" \
      GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0 GOROOT= \
      "$GO" install "github.com/fsouza/fake-gcs-server@$VERSION" >&2
    rm -rf "$CACHE/bin-$VERSION"
    mv "$CACHE/bin-$VERSION.tmp" "$CACHE/bin-$VERSION"
    # Build and module caches (~700 MB) are only needed to build: keep just the binary (48 MB).
    rm -rf "$CACHE/gobuild" "$CACHE/gomod"
  fi
  exec 9>&-
}

prepare
[ "$PREPARE" = 1 ] && exit 0

PORT="${1:-4443}"
exec "$BIN" -scheme http -host 127.0.0.1 -port "$PORT" -backend memory \
  -public-host "127.0.0.1:$PORT" -external-url "http://127.0.0.1:$PORT" -log-level warn
