#!/usr/bin/env bash
# The compose profile `monitoring` for real, on a Docker engine (not part of `npm test`: a fresh
# CI machine has no Docker; tests/deploy/monitoring.test.ts checks the files statically and
# against live /metrics). From a clone:
#   deploy/monitoring/compose-monitoring-check.sh
# 1. where prom/prometheus:v2.54.1 cannot be pulled and is not there, builds the stand-in
#    (deploy/monitoring/standin/Dockerfile.prometheus: Debian's prometheus package, 2.42);
#    Grafana has no Debian package, so grafana/grafana is used only if the engine already has it;
# 2. starts compose.yaml with the profile as its own project (MON_PROJECT, default
#    sector-monitoring), every published port moved to an ephemeral loopback port;
# 3. checks, through Prometheus' HTTP API: every scrape target (the API, both workers, the viz,
#    both bots) is up; the alerting rules file is loaded and each rule evaluates without error;
#    Sector series (sector_*) come from each of the four roles; no alert is firing on the idle stack;
# 4. takes the project down (`down -v`), unless MON_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
P=${MON_PROJECT:-sector-monitoring}
PROM_IMAGE=prom/prometheus:v2.54.1
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
until_ok() { local t=$1; shift; for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }
ports=$(mktemp --suffix=.yaml)
cat > "$ports" <<'EOF'
services:
  redis: { ports: !override ["127.0.0.1::6379"] }
  api: { ports: !override ["127.0.0.1::8000"] }
  viz: { ports: !override ["127.0.0.1::9000"] }
  prometheus: { ports: !override ["127.0.0.1::9090"] }
  grafana: { ports: !override ["127.0.0.1::3000"] }
EOF
dc() { docker compose -p "$P" -f compose.yaml -f "$ports" --profile monitoring "$@"; }
finish() {
  if [ "${MON_KEEP:-0}" != 1 ]; then dc down -v --remove-orphans >/dev/null 2>&1 || true; fi
  rm -f "$ports"
}
trap finish EXIT

docker info >/dev/null 2>&1 || fail "no Docker engine (docker info failed)"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if ! docker image inspect "$PROM_IMAGE" >/dev/null 2>&1 && ! docker pull -q "$PROM_IMAGE" >/dev/null 2>&1; then
  say "1. $PROM_IMAGE cannot be pulled: building the stand-in from Debian's prometheus package"
  DOCKER_BUILDKIT=0 docker build -q -t "$PROM_IMAGE" -f deploy/monitoring/standin/Dockerfile.prometheus deploy/monitoring/standin >/dev/null
fi
say "1. $PROM_IMAGE: $(docker run --rm --entrypoint prometheus "$PROM_IMAGE" --version 2>&1 | head -1)"
services=$(dc config --services | grep -v '^tokens$')
if ! docker image inspect grafana/grafana:11.2.0 >/dev/null 2>&1 && ! docker pull -q grafana/grafana:11.2.0 >/dev/null 2>&1; then
  say "1. grafana/grafana:11.2.0 cannot be pulled and has no Debian package: grafana is NOT started"
  services=$(echo "$services" | grep -v '^grafana$')
fi

# shellcheck disable=SC2086 # one word per service
DOCKER_BUILDKIT=0 dc up --build -d --quiet-pull $services 2>&1 | tail -1
healthy() { [ "$(dc ps --format '{{.Service}} {{.Health}}' | grep -c ' healthy$')" -ge "$(echo "$services" | wc -l)" ]; }
until_ok 300 healthy || { dc ps -a; fail "not every service became healthy"; }
say "2. project $P up, healthy: $(echo $services)"

PROM="http://$(dc port prometheus 9090)"
q() { curl -sf "$PROM/api/v1/$1"; }
targets_up() { q targets | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const t=JSON.parse(s).data.activeTargets;process.exit(t.length===6&&t.every(x=>x.health==='up')?0:1)})"; }
until_ok 120 targets_up || { q targets | head -c 3000; fail "not every scrape target is up"; }
say "3. scrape targets (job instance health):"
q targets | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{for(const t of JSON.parse(s).data.activeTargets)console.log('   ',t.labels.job,t.labels.instance,t.health,t.lastError||'')})"
rules=$(q rules | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const g=JSON.parse(s).data.groups;const r=g.flatMap(x=>x.rules);const bad=r.filter(x=>x.health!=='ok');console.log(r.length+' rules in '+g.length+' groups, '+bad.length+' not ok'+bad.map(x=>' '+x.name+': '+x.lastError).join(''));process.exit(r.length>0&&bad.length===0?0:1)})") || fail "rules: $rules"
say "3. alerting rules loaded and evaluated: $rules"
roles=$(curl -sf --data-urlencode 'query=count by (role) ({__name__=~"sector_.+"})' "$PROM/api/v1/query" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.result.map(r=>r.metric.role+'='+r.value[1]).sort().join(' ')))")
say "3. Sector series per role, count by (role) ({__name__=~\"sector_.+\"}): $roles"
for r in api bot viz worker; do [[ " $roles" == *" $r="* ]] || fail "no sector_ series from the $r role"; done
firing=$(q alerts | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).data.alerts.filter(a=>a.state==='firing').map(a=>a.labels.alertname).join(' ')||'none'))")
say "3. alerts firing on the idle stack: $firing"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
