# Verified downloads for the peer scripts (source it). Every artifact a test peer needs is pinned
# by SHA-1 and cached, so a fresh machine downloads it once and a tampered or truncated download
# never runs. Callers hold their cache's flock while fetching.
MAVEN="${MAVEN_CENTRAL_URL:-https://repo1.maven.org/maven2}"

# verified_download <url> <sha1> <dest> <who>: dest stays if it already has that SHA-1.
verified_download() {
  local url="$1" sha="$2" dest="$3" who="$4" tmp
  if [ -f "$dest" ] && [ "$(sha1sum "$dest" | cut -c1-40)" = "$sha" ]; then return 0; fi
  echo "$who: downloading $(basename "$dest")" >&2
  tmp="$dest.part.$$"
  if ! curl -fsSL --retry 3 --retry-delay 2 -o "$tmp" "$url"; then
    rm -f "$tmp"
    echo "$who: download failed: $url" >&2
    return 1
  fi
  if [ "$(sha1sum "$tmp" | cut -c1-40)" != "$sha" ]; then
    rm -f "$tmp"
    echo "$who: SHA-1 mismatch for $url (want $sha)" >&2
    return 1
  fi
  mv "$tmp" "$dest"
}

# fetch_maven_jars <dir> <who>: downloads the "sha1 path-in-repository" lines on stdin into dir.
fetch_maven_jars() {
  local dir="$1" who="$2" sha rel
  mkdir -p "$dir"
  while read -r sha rel; do
    [ -n "$sha" ] || continue
    verified_download "$MAVEN/$rel" "$sha" "$dir/$(basename "$rel")" "$who" || return 1
  done
}
