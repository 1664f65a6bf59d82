#!/usr/bin/env bash
# Checks that each vendored crate under patches/ is its release on crates.io with the patch
# files of its changes/ applied in order, less what its PATCHED.md says is left out: every
# file kept must be exactly what the patches give. So a dependency's upgrade is a re-apply
# of these files onto the new release.
#
# Usage: patches/check.sh            (from anywhere; needs cargo, patch and crates.io)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name version: the crates vendored here.
crates=(
  "rdkafka-sys 4.10.0+2.12.1"
)

# Fetches NAME VERSION's .crate through cargo (its own cache and registry settings) and
# unpacks it into $work/pristine/NAME-VERSION.
fetch() {
  local name="$1" version="$2" project="$work/fetch-$1"
  mkdir -p "$project/src" "$work/pristine"
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
    "$name" "$version" > "$project/Cargo.toml"
  : > "$project/src/lib.rs"
  cargo fetch --quiet --manifest-path "$project/Cargo.toml"
  local file
  file="$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name "$name-$version.crate" | head -1)"
  [ -n "$file" ] || { echo "cannot find $name-$version.crate in cargo's cache" >&2; exit 1; }
  tar -xzf "$file" -C "$work/pristine"
}

status=0
for entry in "${crates[@]}"; do
  read -r name version <<< "$entry"
  vendored="$here/$name"
  fetch "$name" "$version"
  tree="$work/pristine/$name-$version"
  for p in "$vendored"/changes/*.patch; do
    if ! patch -p1 --quiet --no-backup-if-mismatch -d "$tree" -i "$p" > "$work/patch.log" 2>&1; then
      echo "$name: $(basename "$p") does not apply to the release:" >&2
      cat "$work/patch.log" >&2
      status=1
    fi
  done
  # Every vendored file but our own notes must be the patched release's.
  while IFS= read -r -d '' f; do
    rel="${f#"$vendored"/}"
    case "$rel" in PATCHED.md | changes/* | .cargo-ok) continue ;; esac
    if ! cmp -s "$f" "$tree/$rel"; then
      echo "$name: $rel differs from the release with the patches applied" >&2
      status=1
    fi
  done < <(find "$vendored" -type f -print0)
  [ "$status" = 0 ] && echo "$name $version: $(ls "$vendored"/changes/*.patch | wc -l) patches apply, every kept file matches"
done
exit "$status"
