#!/usr/bin/env bash
# `sector chaos --compose` against a real compose project of Sector, on a Docker engine (not
# part of `npm test`: a fresh CI machine has no Docker; tests/cli/chaos-compose.test.ts checks
# the docker-free parts in CI). From a clone, with nothing else set up:
#   deploy/chaos-compose.sh
# 1. starts compose.yaml as its own project (CHAOS_PROJECT, default sector-chaos) with every
#    published port moved to an ephemeral loopback port, so it clashes with no other stack;
# 2. waits until every service is healthy;
# 3. runs `npx sector chaos --compose <project> --api` for CHAOS_DURATION seconds (default 60):
#    docker kill -s KILL / docker pause / docker kill -s TERM (+ docker start) to random worker
#    and API containers while orders go through the API, then the audit (exit 0: nothing lost,
#    doubled, skipped or re-run; every world replays the same);
# 4. checks the project is left as it was found: every service running and healthy again;
# 5. takes the project down (`down -v`), unless CHAOS_KEEP=1.
# Exit: the chaos command's code (0 passed, 1 a check failed), or 1 if a step before or after failed.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${CHAOS_PROJECT:-sector-chaos}
DURATION=${CHAOS_DURATION:-60}
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
ports=$(mktemp --suffix=.yaml)
cat > "$ports" <<'EOF'
# published on ephemeral loopback ports: `sector chaos --compose` finds them with `docker compose port`
services:
  redis:
    ports: !override ["127.0.0.1::6379"]
  api:
    ports: !override ["127.0.0.1::8000"]
  viz:
    ports: !override ["127.0.0.1::9000"]
EOF
dc() { docker compose -p "$P" -f compose.yaml -f "$ports" "$@"; }
finish() {
  if [ "${CHAOS_KEEP:-0}" != 1 ]; then dc down -v --remove-orphans >/dev/null 2>&1 || true; fi
  rm -f "$ports"
}
trap finish EXIT
healthy_count() { dc ps --format '{{.Service}} {{.Health}}' | grep -c ' healthy$' || true; }
all_healthy() { [ "$(healthy_count)" -ge "$(dc config --services | grep -vc '^tokens$')" ]; }
until_ok() { local t=$1; shift; for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }

docker info >/dev/null 2>&1 || fail "no Docker engine (docker info failed)"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
DOCKER_BUILDKIT=0 dc up --build -d --quiet-pull 2>&1 | tail -1
until_ok 300 all_healthy || { dc ps -a; fail "not every service became healthy"; }
say "1-2. project $P up, every service healthy: $(dc ps --format '{{.Service}}' | tr '\n' ' ')"

say "3. npx sector chaos --compose $P --api --duration $DURATION"
set +e
env -u REDIS_URL -u API_URL -u SECTOR_TOKEN -u SECTOR_TOKEN_FILE \
  node bin/sector.mjs chaos --compose "$P" --compose-file compose.yaml --compose-file "$ports" --api \
  --duration "$DURATION" --every "${CHAOS_EVERY:-3}" --sims "${CHAOS_SIMS:-3}" --rate "${CHAOS_RATE:-15}" --stop-ms 3000
code=$?
set -e
say "sector chaos exited $code"

until_ok 120 all_healthy || { dc ps -a; fail "not every service running and healthy again after chaos"; }
say "4. every service running and healthy again: $(dc ps --format '{{.Service}}={{.State}}' | tr '\n' ' ')"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$code"
