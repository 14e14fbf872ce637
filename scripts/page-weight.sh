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
# Issue 17 §1: at most 250 KB gzipped for the whole app. Printed, not enforced: a bench reports.
goal=$((250 * 1000))
if [ "$total_gz" -le "$goal" ]; then verdict="met"; else verdict="NOT met"; fi
printf 'goal: wasm + js <= %d B gzipped: %s (before islands, 2026-11-30: 1,170,081 B)\n' "$goal" "$verdict"
