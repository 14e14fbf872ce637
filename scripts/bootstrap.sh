#!/usr/bin/env bash
# Installs everything `make run` / `make test` need, idempotently; fast when all is present.
#
# Tools live outside the checkout (TENANTPILOT_TOOLS, default ~/.cache/tenantpilot/tools) so a
# fresh clone on the same machine - CI - reuses them instead of rebuilding cargo-leptos.
#
# wasm32 std: rustup's target when it has it or can download it; otherwise Debian's rustc-web +
# rust-web-src build std for wasm32 (-Zbuild-std), scoped to the wasm build by a cargo-leptos wrapper.
#
#   scripts/bootstrap.sh            # build tools only
#   scripts/bootstrap.sh --test     # plus the browser-test tools (chromium, playwright-core)
#   scripts/bootstrap.sh --lint     # plus leptosfmt, which `make lint` checks the view! macros with
# Writes target/tools.env, to be sourced by the Makefile's recipes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TENANTPILOT_TOOLS:-$HOME/.cache/tenantpilot/tools}"
ENV_FILE="$ROOT/target/tools.env"
WITH_TEST=0
WITH_LINT=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    --lint) WITH_LINT=1 ;;
    *) printf 'usage: %s [--test] [--lint]\n' "$0" >&2; exit 2 ;;
  esac
done

CARGO_LEPTOS_VERSION=0.3.11
LEPTOSFMT_VERSION=0.1.33
# Must equal the `wasm-bindgen = "=…"` pin in Cargo.toml: cargo-leptos calls this CLI as is.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")"
BINARYEN_NPM_VERSION=132.0.0   # Debian's binaryen 108 writes broken modules for current rustc output
CARGO_LEPTOS_MIN_RUSTC=1.96    # cargo-leptos 0.3.11 --locked dependency set

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bootstrap] error:\033[0m %s\n' "$*" >&2; exit 1; }
ver_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }
rustc_version() { "$1" --version 2>/dev/null | awk '{print $2}'; }
have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do have_deb "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "need ${missing[*]} but apt-get is not available"
  if [ "$APT_UPDATED" = 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  log "apt-get install ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# The tools' own release profiles ask for fat LTO and one codegen unit: far slower to build, no gain here.
cargo_install() {
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo install --root "$TOOLS" "$@"
}

command -v cargo >/dev/null || die "cargo is not on PATH (install Rust with rustup)"
command -v npm >/dev/null || apt_install nodejs npm
[ -n "$WASM_BINDGEN_VERSION" ] || die "no wasm-bindgen pin found in Cargo.toml"
mkdir -p "$TOOLS/bin" "$TOOLS/wrap" "$TOOLS/npm" "$ROOT/target"

# 1. wasm32 standard library
sysroot="$(rustc --print sysroot)"
host_rustc="$(rustc_version rustc)"
rustup_has_wasm() { compgen -G "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib" >/dev/null; }
mode="${TENANTPILOT_WASM_MODE:-auto}"
if [ "$mode" = auto ]; then
  if rustup_has_wasm; then
    mode=rustup
  elif [ -f "$TOOLS/wasm-mode" ] && [ "$(cat "$TOOLS/wasm-mode")" = debian ]; then
    mode=debian     # decided on an earlier run: rustup could not download here
  elif command -v rustup >/dev/null && timeout 60 rustup target add wasm32-unknown-unknown >&2 && rustup_has_wasm; then
    mode=rustup
  else
    log "rustup cannot provide wasm32-unknown-unknown here; using Debian's rustc-web with build-std"
    mode=debian
  fi
fi
echo "$mode" > "$TOOLS/wasm-mode"

if [ "$mode" = debian ] || ! ver_ge "$host_rustc" "$CARGO_LEPTOS_MIN_RUSTC"; then
  apt_install rustc-web rust-web-src rust-web-llvm
  ver_ge "$(rustc_version /usr/bin/rustc)" "$CARGO_LEPTOS_MIN_RUSTC" ||
    die "/usr/bin/rustc is older than $CARGO_LEPTOS_MIN_RUSTC; enable the distribution's security updates"
fi
wasm_linker=""
if [ "$mode" = debian ]; then
  [ -d /usr/lib/rustlib/src/rust/library/std ] || die "rust-web-src did not install the std sources"
  if ! /usr/bin/rust-lld -flavor wasm --version >/dev/null 2>&1; then
    # rustup ships a rust-lld that links wasm32 too; Debian's needs a separate lld package.
    wasm_linker="$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    [ -x "$wasm_linker" ] || die "no rust-lld that can link wasm32"
  fi
fi

# 2. cargo tools
if [ "$("$TOOLS/bin/cargo-leptos" --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  log "building cargo-leptos $CARGO_LEPTOS_VERSION (once per machine; ~30 min on 2 cores)"
  if ver_ge "$host_rustc" "$CARGO_LEPTOS_MIN_RUSTC"; then
    cargo_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --force
  else
    RUSTC=/usr/bin/rustc cargo_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads --force
  fi
fi
if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  log "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (~5 min)"
  # Its lock file can name crates the reachable index lacks; then resolve afresh.
  cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --force ||
    cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ "$WITH_LINT" = 1 ] && [ "$("$TOOLS/bin/leptosfmt" --version 2>/dev/null)" != "leptosfmt $LEPTOSFMT_VERSION" ]; then
  log "building leptosfmt $LEPTOSFMT_VERSION (~3 min)"
  cargo_install leptosfmt --version "$LEPTOSFMT_VERSION" --locked --force
fi

# 3. npm tools: wasm-opt always, the browser driver for tests
npm_tool() { # dir package version
  local dir="$1" pkg="$2" ver="$3"
  if ! grep -qs "\"version\": \"$ver\"" "$dir/node_modules/$pkg/package.json"; then
    log "npm install $pkg@$ver"
    mkdir -p "$dir"
    (cd "$dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } &&
      npm install --no-audit --no-fund --save-exact "$pkg@$ver" >/dev/null)
  fi
}
npm_tool "$TOOLS/npm" binaryen "$BINARYEN_NPM_VERSION"
if [ "$WITH_TEST" = 1 ]; then
  apt_install chromium fonts-dejavu-core
  (cd "$ROOT/end2end" && if [ ! -d node_modules/playwright-core ] || ! npm ls --silent >/dev/null 2>&1; then
     log "npm ci in end2end/ (playwright-core; drives Debian's chromium, downloads no browser)"
     PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null
   fi)
fi

# 4. cargo-leptos wrapper (Debian route) and the env file the Makefile sources
if [ "$mode" = debian ]; then
  cat > "$TOOLS/wrap/cargo-leptos" <<WRAP
#!/bin/sh
# Generated by scripts/bootstrap.sh. Only the wasm build uses Debian's rustc with build-std;
# LEPTOS_BIN_CARGO_COMMAND strips that again so the server stays on the rustup toolchain.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
${wasm_linker:+export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$wasm_linker"}
export LEPTOS_BIN_CARGO_COMMAND="\${LEPTOS_BIN_CARGO_COMMAND:-env -u RUSTC -u RUSTC_BOOTSTRAP -u CARGO_UNSTABLE_BUILD_STD cargo}"
exec "$TOOLS/bin/cargo-leptos" "\$@"
WRAP
  chmod +x "$TOOLS/wrap/cargo-leptos"
else
  rm -f "$TOOLS/wrap/cargo-leptos"
fi
cat > "$ENV_FILE" <<ENV
export PATH="$TOOLS/wrap:$TOOLS/bin:$TOOLS/npm/node_modules/.bin:\$PATH"
export TENANTPILOT_WASM_MODE=$mode
ENV
log "ready: wasm via $mode, $("$TOOLS/bin/cargo-leptos" --version), $("$TOOLS/bin/wasm-bindgen" --version)"
