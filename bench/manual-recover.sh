#!/usr/bin/env bash
# The baseline for bench/recover.mjs: the manual quorum-loss recovery of docs (the operator's write-up)
# scripted as plain `ssh` commands, one connection per command, as an operator types them. It assumes
# etcd is already stopped on every node (as `lab break --scenario all-down` leaves it) and the first
# node is the survivor. No backups, no learners, no verification beyond `member list`.
# Usage: bench/manual-recover.sh LAB_DIR
set -euo pipefail
lab=$1
inv="$lab/inventory.yaml"
key="$lab/id_ed25519"
known="$lab/known_hosts"
mapfile -t names < <(awk '/^  - name:/ {print $3}' "$inv")
mapfile -t hosts < <(awk '/^    host:/ {print $2}' "$inv")
mapfile -t addrs < <(awk '/^    address:/ {print $2}' "$inv")
token=manual-$(date +%s)

ssh_() { local a=$1; shift; ssh -q -i "$key" -o UserKnownHostsFile="$known" -o StrictHostKeyChecking=yes -o BatchMode=yes "root@$a" "$@"; }
ctl() { # ctl INDEX ARGS...: etcdctl on node INDEX against its own member
  local i=$1; shift
  ssh_ "${addrs[$i]}" ETCDCTL_API=3 etcdctl --endpoints="https://${addrs[$i]}:2379" --cacert=/etc/ssl/etcd/ssl/ca.pem \
    --cert="/etc/ssl/etcd/ssl/admin-${hosts[$i]}.pem" --key="/etc/ssl/etcd/ssl/admin-${hosts[$i]}-key.pem" "$@"
}
peer() { printf 'https://%s:2380' "${addrs[$1]}"; }
# until_ok SECONDS WHAT CMD...: retry CMD every 0.5 s; give up after SECONDS with a message (an operator
# would also stop waiting at some point; a bench run must never hang)
until_ok() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "manual-recover: gave up after ${limit} s waiting for: $what" >&2; return 1; fi
    sleep 0.5
  done
}

# make sure etcd is stopped everywhere
for i in "${!names[@]}"; do ssh_ "${addrs[$i]}" systemctl stop etcd; done

# scale in: the survivor from its own db
restore=etcdctl
if ssh_ "${addrs[0]}" command -v etcdutl >/dev/null; then restore=etcdutl; fi
ssh_ "${addrs[0]}" "mkdir -p /root/etcd-backup && cp /var/lib/etcd/member/snap/db /root/etcd-backup/current.db && rm -rf /var/lib/etcd"
if [ "$restore" = etcdutl ]; then r="etcdutl"; else r="ETCDCTL_API=3 etcdctl"; fi
ssh_ "${addrs[0]}" "$r snapshot restore /root/etcd-backup/current.db --data-dir=/var/lib/etcd --name=${names[0]} \
  --initial-advertise-peer-urls=$(peer 0) --initial-cluster=${names[0]}=$(peer 0) --initial-cluster-token=$token --skip-hash-check >/dev/null 2>&1"
ssh_ "${addrs[0]}" "sed -i 's|^ETCD_INITIAL_CLUSTER=.*|ETCD_INITIAL_CLUSTER=${names[0]}=$(peer 0)|' /etc/etcd.env"
ssh_ "${addrs[0]}" systemctl start etcd
until_ok 120 "${names[0]} serving" ctl 0 endpoint health

# scale out: one member at a time (a voting add, as in the write-up)
cluster="${names[0]}=$(peer 0)"
for i in $(seq 1 $((${#names[@]} - 1))); do
  cluster="$cluster,${names[$i]}=$(peer "$i")"
  until_ok 120 "member add ${names[$i]}" ctl 0 member add "${names[$i]}" --peer-urls="$(peer "$i")"
  ssh_ "${addrs[$i]}" "sed -i -e 's|^ETCD_INITIAL_CLUSTER=.*|ETCD_INITIAL_CLUSTER=$cluster|' -e 's|^ETCD_INITIAL_CLUSTER_STATE=.*|ETCD_INITIAL_CLUSTER_STATE=existing|' /etc/etcd.env && rm -rf /var/lib/etcd"
  # --no-block: the wait below is bounded, whatever the service manager's own start timeout is
  ssh_ "${addrs[$i]}" systemctl start --no-block etcd
  until_ok 180 "${names[$i]} serving" ctl "$i" endpoint health
done

# every env file final
for i in "${!names[@]}"; do
  ssh_ "${addrs[$i]}" "sed -i -e 's|^ETCD_INITIAL_CLUSTER=.*|ETCD_INITIAL_CLUSTER=$cluster|' -e 's|^ETCD_INITIAL_CLUSTER_STATE=.*|ETCD_INITIAL_CLUSTER_STATE=existing|' /etc/etcd.env"
done
ctl 0 member list
