#!/usr/bin/env bash
# Fetch Debian's etcd 3.5 packages (etcd, etcdctl, etcdutl) from Debian's newer suite with apt alone,
# without touching the system's apt sources, and unpack them into etcd-dr's cache folder.
# Usage: fetch-etcd35.sh CACHE_DIR   -> binaries in CACHE_DIR/etcd-3.5/bin/{etcd,etcdctl,etcdutl}
set -euo pipefail
cache=${1:?usage: fetch-etcd35.sh CACHE_DIR}
dest="$cache/etcd-3.5"
if [ -x "$dest/bin/etcd" ] && [ -x "$dest/bin/etcdctl" ] && [ -x "$dest/bin/etcdutl" ]; then
  echo "$dest/bin"; exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/debs" "$work/root"
# Use the Debian archive this machine already uses (its first main-archive URI), with the newer suite.
mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -vE 'security|updates' | grep -oE 'https?://[^ ]+/debian' | head -n 1 || true)
[ -n "$mirror" ] || { echo "fetch-etcd35: no Debian archive found in the apt sources of this machine" >&2; exit 1; }
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$work/lists" -o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0)
apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root update -qq >&2
( cd "$work/debs" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root download etcd-server etcd-client >&2 )
for d in "$work"/debs/*.deb; do dpkg -x "$d" "$work/root"; done
mkdir -p "$dest.tmp/bin"
for b in etcd etcdctl etcdutl; do
  src=$(find "$work/root" -type f -name "$b" -perm -u+x | head -n 1)
  [ -n "$src" ] || { echo "fetch-etcd35: $b not found in Debian's packages" >&2; exit 1; }
  cp "$src" "$dest.tmp/bin/$b"
done
"$dest.tmp/bin/etcd" --version | head -n 1 >&2
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "$dest/bin"
