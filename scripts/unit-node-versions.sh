#!/usr/bin/env bash
# Runs the unit tests on every Node major etcd-dr supports (package.json engines: >=22), with Node
# binaries from the npm registry's `node` package (npx caches them in ~/.npm/_npx), whatever Node the
# machine has. ETCD_DR_NODE_VERSIONS overrides the list, e.g. ETCD_DR_NODE_VERSIONS="22 24 25".
set -euo pipefail
cd "$(dirname "$0")/.."
for v in ${ETCD_DR_NODE_VERSIONS:-22 24}; do
  echo "== unit tests on Node $(npx -y -p "node@$v" -- node --version) (node@$v from the npm registry)"
  NODE_OPTIONS=--experimental-vm-modules npx -y -p "node@$v" -- node node_modules/jest/bin/jest.js --selectProjects unit --silent
done
