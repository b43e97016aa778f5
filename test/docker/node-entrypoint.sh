#!/bin/sh
# Container start-up of one test node: TLS material from the shared /pki volume, /etc/etcd.env in
# kubespray's format, the bastion's public key for root and ops, then sshd in the foreground and etcd
# started through the service shim (enabled units start at boot, as on a host).
set -eu
cp -n /pki/ca.pem /pki/member-*.pem /pki/admin-*.pem /etc/ssl/etcd/ssl/ 2>/dev/null || true
chmod 0600 /etc/ssl/etcd/ssl/*-key.pem
if [ ! -f /etc/etcd.env ]; then
  cat > /etc/etcd.env <<ENV
ETCD_DATA_DIR=/var/lib/etcd
ETCD_ADVERTISE_CLIENT_URLS=https://${NODE_ADDRESS}:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://${NODE_ADDRESS}:2380
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_METRICS=basic
ETCD_LISTEN_CLIENT_URLS=https://${NODE_ADDRESS}:2379,https://127.0.0.1:2379
ETCD_ELECTION_TIMEOUT=5000
ETCD_HEARTBEAT_INTERVAL=250
ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd
ETCD_LISTEN_PEER_URLS=https://${NODE_ADDRESS}:2380
ETCD_NAME=${NODE_NAME}
ETCD_PROXY=off
ETCD_INITIAL_CLUSTER=${INITIAL_CLUSTER}
ETCD_AUTO_COMPACTION_RETENTION=8
ETCD_SNAPSHOT_COUNT=10000
# TLS settings
ETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem
ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-${NODE_HOST}.pem
ETCD_KEY_FILE=/etc/ssl/etcd/ssl/member-${NODE_HOST}-key.pem
ETCD_CLIENT_CERT_AUTH=true
ETCD_PEER_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem
ETCD_PEER_CERT_FILE=/etc/ssl/etcd/ssl/member-${NODE_HOST}.pem
ETCD_PEER_KEY_FILE=/etc/ssl/etcd/ssl/member-${NODE_HOST}-key.pem
ETCD_PEER_CLIENT_CERT_AUTH=True
ENV
  systemctl enable etcd
fi
for home in /root /home/ops; do
  mkdir -p "$home/.ssh" && cp /bastion/id_ed25519.pub "$home/.ssh/authorized_keys"
  chmod 0700 "$home/.ssh" && chmod 0600 "$home/.ssh/authorized_keys"
done
chown -R ops:ops /home/ops/.ssh
ssh-keygen -A >/dev/null
if [ "$(systemctl is-enabled etcd 2>/dev/null)" = enabled ]; then systemctl start --no-block etcd; fi
exec /usr/sbin/sshd -D -e
