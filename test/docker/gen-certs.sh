#!/bin/sh
# Generate the CA and every host's member/admin certificates once into /pki (a shared volume),
# the way kubespray lays them out: ca.pem, member-<host>.pem, admin-<host>.pem (+ -key.pem).
# HOSTS="k2-master01=172.28.0.11 k2-master02=…"
set -eu
cd /pki
[ -f ca.pem ] && exit 0
openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days 3650 -subj "/CN=etcd-dr-test-ca" -out ca.pem
for pair in $HOSTS; do
  host=${pair%%=*}; addr=${pair#*=}
  for kind in member admin; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$kind-$host-key.pem"
    openssl req -new -key "$kind-$host-key.pem" -subj "/CN=$kind-$host" -out "$kind-$host.csr"
    printf 'subjectAltName=IP:%s,IP:127.0.0.1,DNS:%s,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' "$addr" "$host" > "$kind-$host.ext"
    openssl x509 -req -in "$kind-$host.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -sha256 \
      -extfile "$kind-$host.ext" -out "$kind-$host.pem"
    rm -f "$kind-$host.csr" "$kind-$host.ext"
  done
done
chmod 0644 ./*.pem && chmod 0600 ./*-key.pem
