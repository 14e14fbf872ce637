#!/usr/bin/env bash
# What the browser downloads: each file of the site's package (target/site/pkg, as the last
# `cargo leptos build` left it), raw and gzipped (gzip -9, as a server compressing it would
# send at best), and the wasm + js total. `make bench` runs it after a release build.
set -euo pipefail
pkg="${1:-target/site/pkg}"
[ -d "$pkg" ] || { echo "no $pkg: build the site first (cargo leptos build --release)" >&2; exit 1; }
printf '%-28s %12s %12s\n' "file" "raw" "gzipped"
total_raw=0 total_gz=0
for file in "$pkg"/*; do
  raw=$(stat -c %s "$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  printf '%-28s %12d %12d\n' "$(basename "$file")" "$raw" "$gz"
  case "$file" in
    *.wasm|*.js) total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)) ;;
  esac
done
printf '%-28s %12d %12d\n' "wasm + js" "$total_raw" "$total_gz"
