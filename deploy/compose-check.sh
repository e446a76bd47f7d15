#!/usr/bin/env bash
# The compose stack for real, as a new user runs it, on a Docker engine (not part of `npm test`:
# a fresh CI machine has no Docker). From a clone, with nothing else set up:
#   deploy/compose-check.sh
# It runs `docker compose up --build -d`, then checks and measures:
#   1. every service healthy (and `tokens` exited 0); the seconds that took, build included;
#   2. an order posted with the admin token (read as docs/deployment.md says) is applied;
#   3. failover: the worker holding the lease is killed (SIGKILL); the other takes over, the world ticks on;
#   4. Redis restarted: the world ticks on from where it was, and an order is applied again;
#   5. memory per container (`docker stats --no-stream`) and the image size.
# It leaves the stack running; `docker compose down` (add -v to drop the world and the tokens) stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
API=http://127.0.0.1:8000
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
# until <seconds> <command...>: retries the command every second until it succeeds
until_ok() { local t=$1; shift; for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const v=JSON.parse(s)$1;console.log(v)})"; }
tick() { curl -sf "$API/api/snapshot" | json '.tick'; }
healthy_count() { docker compose ps --format '{{.Service}} {{.Health}}' | grep -c ' healthy$' || true; }
all_healthy() { [ "$(healthy_count)" -ge "$(docker compose config --services | grep -vc '^tokens$')" ]; }
worker_leads() { docker compose exec -T "$1" node -e "fetch('http://127.0.0.1:9100/health').then(r=>r.json()).then(j=>process.exit(j.leader?0:1),()=>process.exit(2))"; }
ticks_past() { local t; t=$(tick) && [ "$t" -gt "$1" ]; }
order_applied() {
  local id status
  id=$(curl -sf -X POST "$API/api/orders" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
       -d '{"type":"note","faction":"Azure","text":"compose-check"}' | json '.id') || return 1
  for _ in $(seq 60); do
    status=$(curl -sf "$API/api/orders/$id" | json '.status') || true
    [ "$status" = applied ] && return 0
    [ -n "$status" ] && [ "$status" != pending ] && fail "order $id: $status"
    sleep 1
  done
  return 1
}

say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
docker compose up --build -d --quiet-pull 2>&1 | tail -1
until_ok 300 all_healthy || { docker compose ps -a; fail "not every service became healthy"; }
say "1. every service healthy $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.0f') s after \`docker compose up --build -d\` (build included)"
[ "$(docker compose ps -a --format '{{.Service}} {{.State}} {{.ExitCode}}' | grep '^tokens ')" = "tokens exited 0" ] || fail "tokens did not exit 0"

ADMIN=$(docker compose exec -T api cat /var/lib/sector/tokens/ADMIN_TOKEN)
[ "${#ADMIN}" -ge 8 ] || fail "no admin token in the tokens volume"
until_ok 60 order_applied || fail "an order posted with the admin token was not applied"
say "2. an order posted with the generated admin token was applied"

leader=""
for w in sim-worker-1 sim-worker-2; do worker_leads "$w" && leader=$w; done
[ -n "$leader" ] || fail "no worker holds the lease"
standby=$([ "$leader" = sim-worker-1 ] && echo sim-worker-2 || echo sim-worker-1)
docker compose kill -s SIGKILL "$leader" >/dev/null 2>&1
t0=$(tick); killed=$(date +%s.%N)
until_ok 60 worker_leads "$standby" || fail "$standby did not take the lease"
until_ok 60 ticks_past $((t0 + 2)) || fail "the world did not tick after failover"
say "3. $leader killed (SIGKILL) at tick $t0; $standby took over and the world ticks ($(tick)) $(echo "$(date +%s.%N) - $killed" | bc | xargs printf '%.1f') s later"
docker compose start "$leader" >/dev/null 2>&1

t0=$(tick)
docker compose restart redis >/dev/null 2>&1
until_ok 120 ticks_past $((t0 + 2)) || fail "the world did not tick on after a Redis restart"
[ "$(tick)" -ge "$t0" ] || fail "the world went back after a Redis restart"
until_ok 60 order_applied || fail "no order applied after a Redis restart"
until_ok 120 all_healthy || fail "not every service healthy again after a Redis restart"
say "4. Redis restarted at tick $t0: the world ticks on ($(tick)), an order was applied, every service healthy again"

sleep 5 # let the restarted worker settle before measuring memory (a measurement, not a synchronisation)
say "5. memory per container (docker stats --no-stream), image size"
docker stats --no-stream --format '{{.Name}}\t{{.MemUsage}}\t{{.CPUPerc}}' $(docker compose ps -q) | sed 's/^/   /'
docker image ls sector:latest --format '   image {{.Repository}}:{{.Tag}} {{.Size}}'
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
