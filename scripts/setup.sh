#!/usr/bin/env bash
# Install everything etcd-dr's lab, demo and tests need on a Debian 12 machine (run as root):
# Debian packages, the npm dependencies (npm ci, which also builds dist/), and etcd 3.5 into .cache/.
# Safe to run again: each part is skipped when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then echo "setup.sh: run as root (the lab creates mount namespaces and runs sshd): sudo bash scripts/setup.sh" >&2; exit 2; fi

pkgs=(etcd-server etcd-client openssh-server openssh-client sudo openssl util-linux procps iproute2 iptables ca-certificates docker-compose e2fsprogs tmux)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  # package installs must not start services here: the lab runs its own sshd and etcd
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && created_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f dist/cli/main.js ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

echo "== etcd 3.5 for the lab"
bash lab-assets/fetch-etcd35.sh "$PWD/.cache" >/dev/null
echo "setup done: etcd $(etcd --version | head -n 1 | awk '{print $3}') (Debian) and $(.cache/etcd-3.5/bin/etcd --version | head -n 1 | awk '{print $3}') (.cache)"
