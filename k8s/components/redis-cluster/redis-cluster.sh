#!/bin/sh
# Forms Sector's Redis Cluster, and puts it back together after its nodes restart.
# Runs in the redis image (redis-cli, getent), from compose's `redis-cluster` service and from
# the Kubernetes Job `redis-cluster-form` and the nodes' postStart hook (k8s/components/redis-cluster).
#
#   redis-cluster.sh form   <replicas-per-primary> <host:port>...
#   redis-cluster.sh rejoin <host:port>...
#
# form: waits until every node answers, then
#   - every node empty (a new installation): `redis-cli --cluster create`;
#   - a cluster already formed (a re-up, a re-run of the Job): no create. Each formed node is
#     told every other's current address (CLUSTER MEET), because a restarted container or pod
#     usually has a new IP and nodes.conf still names the old ones; a node found empty (its
#     volume lost) is added as a replica;
#   (once the lost node's slots are served by its replica again) and the lost identity forgotten;
#   then waits until every node reports cluster_state:ok, all 16384 slots served, and knows
#   exactly the nodes given. Exit 0 only then.
# rejoin: for a node that just started: if its nodes.conf made it part of a cluster, it meets
#   the other nodes at their current addresses. Never creates anything; always exits 0.
set -eu
mode=${1:?usage: redis-cluster.sh form <replicas> <host:port>... | rejoin <host:port>...}
shift
if [ "$mode" = form ]; then replicas=${1:?replicas per primary}; shift; fi
timeout=${CLUSTER_FORM_TIMEOUT:-300}
deadline=$(( $(date +%s) + timeout ))
say() { echo "redis-cluster: $*" >&2; }

# host:port -> ip:port (redis-cli --cluster wants addresses; names resolve through DNS)
address() {
  ip=$(getent hosts "${1%:*}" | awk '{ print $1; exit }')
  [ -n "$ip" ] && echo "$ip:${1##*:}"
}
cli() { a=$1; shift; redis-cli -h "${a%:*}" -p "${a##*:}" "$@"; }
info() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2:\(.*\)/\1/p"; }
# A node that knows no other node and serves no slot: nothing of a cluster is on it.
empty() { [ "$(info "$1" cluster_known_nodes)" = 1 ] && [ "$(info "$1" cluster_slots_assigned)" = 0 ]; }

if [ "$mode" = rejoin ]; then
  self=127.0.0.1:${REDIS_PORT:-6379}
  until [ "$(cli "$self" ping 2>/dev/null)" = PONG ]; do
    [ "$(date +%s)" -lt "$deadline" ] || exit 0
    sleep 1
  done
  if empty "$self"; then exit 0; fi
  # Peers that are not up yet meet this node themselves when they start. This node itself (its
  # pod's name, or one of its addresses) is skipped: a node never meets itself.
  own=" $(for ip in $(hostname -i 2>/dev/null); do printf '%s ' "$ip:${self##*:}"; done)"
  for node in "$@"; do
    [ "${node%%.*}" != "$(hostname)" ] || continue
    a=$(address "$node") || continue
    case "$own" in *" $a "*) continue ;; esac
    cli "$self" cluster meet "${a%:*}" "${a##*:}" >/dev/null 2>&1 || true
  done
  exit 0
fi

addrs=""
for node in "$@"; do
  until a=$(address "$node") && [ "$(cli "$a" ping 2>/dev/null)" = PONG ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "$node does not answer after ${timeout}s"; exit 1; }
    sleep 1
  done
  addrs="$addrs $a"
done

formed="" fresh=""
for a in $addrs; do if empty "$a"; then fresh="$fresh $a"; else formed="$formed $a"; fi; done
if [ -z "$formed" ]; then
  say "creating the cluster:$addrs, $replicas replica(s) per primary"
  # shellcheck disable=SC2086
  redis-cli --cluster create $addrs --cluster-replicas "$replicas" --cluster-yes
else
  say "already formed; meeting every node at its current address"
  for a in $formed; do for b in $formed; do
    [ "$a" = "$b" ] || cli "$a" cluster meet "${b%:*}" "${b##*:}" >/dev/null
  done; done
  first=${formed# }; first=${first%% *}
  if [ -n "$fresh" ]; then
    live=" $(for a in $addrs; do cli "$a" cluster myid; done | tr -d '\r' | tr '\n' ' ')"
    # A lost node that was a primary: its replica takes its slots over. After a restart of the
    # whole cluster the replica does not do so by itself (it has not seen its primary since it
    # started, so it counts its data as too old), hence a forced failover; the lost primary's
    # data is gone, and the replica's copy is the newest there is. redis-cli adds a node only to
    # a cluster that serves every slot.
    until [ "$(info "$first" cluster_slots_ok)" = 16384 ]; do
      [ "$(date +%s)" -lt "$deadline" ] || { say "slots stay unserved: a primary and all its replicas lost their data?"; exit 1; }
      for a in $formed; do
        primary=$(cli "$a" cluster nodes | tr -d '\r' | awk '$3 ~ /myself/ && $3 ~ /slave/ { print $4 }')
        case "$live" in *" $primary "*) continue ;; esac
        [ -z "$primary" ] || { say "$a replicated the lost primary $primary: failing over to it"; cli "$a" cluster failover force >/dev/null 2>&1 || true; }
      done
      sleep 2
    done
    for a in $fresh; do
      say "$a is empty (its data was lost): adding it as a replica"
      redis-cli --cluster add-node "$a" "$first" --cluster-slave
    done
    # The lost nodes' old identities stay in every node table as failed: forget them.
    for id in $(cli "$first" cluster nodes | awk '{ print $1 }'); do
      case "$live" in *" $id "*) continue ;; esac
      say "forgetting $id, a node that no longer exists"
      for a in $addrs; do [ "$(cli "$a" cluster myid | tr -d '\r')" = "$id" ] || cli "$a" cluster forget "$id" >/dev/null 2>&1 || true; done
    done
  fi
fi

count=$(echo $addrs | wc -w)
for a in $addrs; do
  until [ "$(info "$a" cluster_state)" = ok ] && [ "$(info "$a" cluster_slots_ok)" = 16384 ] && [ "$(info "$a" cluster_known_nodes)" = "$count" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "$a: cluster not ok after ${timeout}s"; cli "$a" cluster nodes >&2 || true; exit 1; }
    sleep 1
  done
done
say "cluster ok: $count nodes"
cli "$a" cluster nodes | sed 's/^/  /' >&2
