#!/bin/sh
# Boot one etcd-dr lab node. Run by `etcd-dr lab up|power-on` as
#   unshare --mount --uts --pid --fork --kill-child --mount-proc --propagation private sh boot-node.sh LAB_DIR HOST
# so it starts as PID 1 of fresh mount, UTS and PID namespaces. It gives the node its own disk and
# then becomes the node's sshd (still PID 1, so it reaps every orphan of the node, and when it dies the
# kernel ends every process of the node, as a power cut would):
#   /etc, /var/lib, /var/log  overlays on the host's dirs; the node's writes land in LAB_DIR/nodes/HOST/upper
#   /run                      a tmpfs (gone at power-off, as on a real host)
#   /root, /home, /tmp        the node's own dirs LAB_DIR/nodes/HOST/{root,home,tmp}
#   /usr/local/bin            read-only, LAB_DIR/bin on top: the lab's etcd version and the systemctl shim
#   /usr/bin/systemctl        the shim (LAB_DIR/bin/systemctl)
#   /var/lib/etcd             LAB_DIR/nodes/HOST/datadir.img (ext4, loop) when the lab has --data-dir-mount
# The lab dir itself stays visible at its own path inside the node (sshd reads its config, host key
# and authorized_keys from there), even when it lives under /root, /home or /tmp.
set -eu
dir=$1
host=$2
node=$dir/nodes/$host
[ -f "$node/sshd_config" ] || { echo "boot-node: $node/sshd_config is missing" >&2; exit 1; }

hostname "$host"

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /run/sshd /run/lock /run/etcd-dr-lab
mount --bind "$dir" /run/etcd-dr-lab

for pair in etc:/etc var-lib:/var/lib var-log:/var/log; do
  key=${pair%%:*}
  target=${pair#*:}
  mount -t overlay overlay -o "lowerdir=$target,upperdir=$node/upper/$key,workdir=$node/work/$key" "$target"
done

mount -t overlay overlay -o "ro,lowerdir=$dir/bin:/usr/local/bin" /usr/local/bin
if [ -e /usr/bin/systemctl ]; then
  mount --bind "$dir/bin/systemctl" /usr/bin/systemctl
fi

for d in root home tmp; do
  mount --bind "$node/$d" "/$d"
done

mkdir -p "$dir"
mount --bind /run/etcd-dr-lab "$dir"
umount /run/etcd-dr-lab
rmdir /run/etcd-dr-lab

# First boot of this node's disk: an empty etcd data dir of its own (opaque to whatever the host
# has in /var/lib/etcd), and the ops user (its sudoers file is already in the node's /etc).
if [ ! -e "$node/provisioned" ]; then
  rm -rf /var/lib/etcd
  mkdir -m 0700 /var/lib/etcd
  # '*' (not '!'): no password, yet not a locked account, so sshd lets the key in without PAM
  id ops >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --password '*' ops
  : > "$node/provisioned"
fi
# A data dir on a file system of its own (lab up --data-dir-mount): the node's image, loop-mounted over
# /var/lib/etcd in this namespace only; it is the node's disk, so it outlives power-off like upper/
if [ -f "$node/datadir.img" ]; then
  mount -o loop "$node/datadir.img" /var/lib/etcd
  chmod 0700 /var/lib/etcd
fi
# ops reads its key from its own home: the lab dir (0700, maybe under a private /root) is root's
if id ops >/dev/null 2>&1; then
  install -d -m 0700 -o ops -g ops /home/ops/.ssh
  install -m 0600 -o ops -g ops "$dir/authorized_keys" /home/ops/.ssh/authorized_keys
fi

exec /usr/sbin/sshd -D -f "$node/sshd_config" -E "$node/sshd.log"
