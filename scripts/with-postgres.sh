#!/usr/bin/env bash
# Runs a command with TEST_POSTGRES_URL pointing at a PostgreSQL server: the one at
# 127.0.0.1:5432 when it answers, otherwise a throwaway cluster started here (installing
# Debian's postgresql if needed) and removed afterwards.
#   scripts/with-postgres.sh cargo test --workspace
set -euo pipefail

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

ready() { pg_isready -q -h 127.0.0.1 -p "$1" 2>/dev/null; }
if command -v pg_isready >/dev/null && ready 5432 && psql -q -h 127.0.0.1 -U postgres -d test -c 'SELECT 1' >/dev/null 2>&1; then
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
  exec "$@"
fi

echo "[postgres] no server at 127.0.0.1:5432; starting a throwaway cluster" >&2
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")"
DIR="$(mktemp -d /tmp/tenantpilot-pg.XXXXXX)"
PORT=55432
while ready "$PORT"; do PORT=$((PORT + 1)); done
# initdb refuses to run as root; the cluster belongs to an unprivileged user.
RUN=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home "$DIR" postgres
  chown postgres "$DIR"
  RUN=(runuser -u postgres --)
fi
cleanup() {
  "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${RUN[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
  -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=300" start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres test
export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/test"
"$@"
