#!/usr/bin/env bash
# The floor for bench/recover.mjs: etcd's whole-cluster restore done with plain commands, as fast as an
# operator could type it with nothing checked: stop etcd and move the data dir aside everywhere, stream
# the survivor's db to every other node (through this machine: ssh survivor cat | ssh node cat), restore
# it on every node at once (one token, the full initial cluster, each its own name), rewrite the env
# files, start every member at once, wait until every member is healthy. The first node is the survivor.
# Prints each phase's seconds on stderr ("floor: copy 0.41 s").
# Usage: bench/floor-recover.sh LAB_DIR
set -euo pipefail
lab=$1
inv="$lab/inventory.yaml"
key="$lab/id_ed25519"
known="$lab/known_hosts"
mapfile -t names < <(awk '/^  - name:/ {print $3}' "$inv")
mapfile -t hosts < <(awk '/^    host:/ {print $2}' "$inv")
mapfile -t addrs < <(awk '/^    address:/ {print $2}' "$inv")
run=floor-$(date +%s%N)

ssh_() { local a=$1; shift; ssh -q -i "$key" -o UserKnownHostsFile="$known" -o StrictHostKeyChecking=yes -o BatchMode=yes "root@$a" "$@"; }
ctl() {
  local i=$1; shift
  ssh_ "${addrs[$i]}" ETCDCTL_API=3 etcdctl --endpoints="https://${addrs[$i]}:2379" --cacert=/etc/ssl/etcd/ssl/ca.pem \
    --cert="/etc/ssl/etcd/ssl/admin-${hosts[$i]}.pem" --key="/etc/ssl/etcd/ssl/admin-${hosts[$i]}-key.pem" "$@"
}
peer() { printf 'https://%s:2380' "${addrs[$1]}"; }
t=$(date +%s.%N)
phase() { local now; now=$(date +%s.%N); awk -v a="$now" -v b="$t" -v p="$1" 'BEGIN { printf "floor: %s %.2f s\n", p, a - b }' >&2; t=$now; }
each() { # each CMD...: run "CMD i" for every node index at once, fail if any fails
  local pids=() i
  for i in "${!names[@]}"; do "$@" "$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}

stop_aside() { ssh_ "${addrs[$1]}" "systemctl stop etcd && mv /var/lib/etcd /var/lib/etcd.$run"; }
each stop_aside
phase stop

copy() { [ "$1" = 0 ] && return 0; ssh_ "${addrs[0]}" cat "/var/lib/etcd.$run/member/snap/db" | ssh_ "${addrs[$1]}" "cat > /var/lib/etcd.$run.db"; }
each copy
phase copy

cluster=$(for i in "${!names[@]}"; do printf '%s=%s,' "${names[$i]}" "$(peer "$i")"; done)
cluster=${cluster%,}
restore=etcdctl
if ssh_ "${addrs[0]}" command -v etcdutl >/dev/null; then restore=etcdutl; fi
if [ "$restore" = etcdutl ]; then r="etcdutl"; else r="ETCDCTL_API=3 etcdctl"; fi
restore_one() {
  local i=$1 db="/var/lib/etcd.$run.db"
  [ "$i" = 0 ] && db="/var/lib/etcd.$run/member/snap/db"
  ssh_ "${addrs[$i]}" "$r snapshot restore $db --data-dir=/var/lib/etcd --name=${names[$i]} --initial-advertise-peer-urls=$(peer "$i") \
    --initial-cluster=$cluster --initial-cluster-token=$run --skip-hash-check >/dev/null 2>&1 && \
    sed -i -e 's|^ETCD_INITIAL_CLUSTER=.*|ETCD_INITIAL_CLUSTER=$cluster|' -e 's|^ETCD_INITIAL_CLUSTER_STATE=.*|ETCD_INITIAL_CLUSTER_STATE=existing|' /etc/etcd.env"
}
each restore_one
phase restore

start() { ssh_ "${addrs[$1]}" systemctl start --no-block etcd; }
each start
healthy() {
  local deadline=$((SECONDS + 180))
  until ctl "$1" endpoint health >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "floor-recover: ${names[$1]} not healthy after 180 s" >&2; return 1; fi
    sleep 0.1
  done
}
each healthy
phase election
ctl 0 member list
