#!/usr/bin/env bash
# The end-to-end tests (the real lab) on a Node that etcd-dr supports (package.json engines: >=22): the
# machine's own Node when it is one, else node@22 from the npm registry (as scripts/unit-node-versions.sh
# fetches its Nodes), so the CLI the tests drive runs on a Node users run it on. Arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/.."
min=$(node -p 'require("./package.json").engines.node.replace(/^>=\s*/, "").split(".")[0]')
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge "$min" ]; then
  node=(node)
else
  node=(npx -y -p "node@$min" -- node)
  echo "== e2e tests on Node $("${node[@]}" --version) (node@$min from the npm registry: this machine's $(node --version) is below engines >=$min)"
fi
NODE_OPTIONS=--experimental-vm-modules exec "${node[@]}" node_modules/jest/bin/jest.js --selectProjects e2e "$@"
