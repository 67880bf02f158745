#!/usr/bin/env bash
# Runs the runtime smoke suite (test/runtimes/) under Node, Bun and Deno,
# against the package as users get it: `npm pack`, installed into a scratch
# app in a temporary directory outside the repository (so nothing resolves
# from the repository's node_modules), without koffi (an optional peer).
#
# Bun and Deno come from the npm registry, pinned below: their platform
# packages (@oven/bun-<platform>, @deno/<platform>) carry the binary itself,
# so `npm pack` of one is the whole install — no install script, no download
# from anywhere but the registry. Cached in .cache/runtimes/.
#
# "bundle" runs the same suite as an application bundled with esbuild (no extra step, no
# option: the pool starts its threads from the runtime copy inlined in the package's main
# file), the handler modules shipped beside the bundle.
#
#   bash scripts/test-runtimes.sh [node|bun|deno|bundle ...]     default: all four
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=1.4.5
DENO_VERSION=2.9.6
CACHE=$PWD/.cache/runtimes
if [ $# -gt 0 ]; then runtimes=("$@"); else runtimes=(node bun deno bundle); fi
t0=$(date +%s)
say() { echo "[test-runtimes +$(( $(date +%s) - t0 ))s] $*"; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) bun_pkg=@oven/bun-linux-x64; deno_pkg=@deno/linux-x64-glibc ;;
  Linux-aarch64) bun_pkg=@oven/bun-linux-aarch64; deno_pkg=@deno/linux-arm64-glibc ;;
  Darwin-x86_64) bun_pkg=@oven/bun-darwin-x64; deno_pkg=@deno/darwin-x64 ;;
  Darwin-arm64) bun_pkg=@oven/bun-darwin-aarch64; deno_pkg=@deno/darwin-arm64 ;;
  *) echo "test-runtimes: no Bun/Deno package mapped for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

# fetch <package> <version> <binary path inside the package>: prints the binary's path.
fetch() {
  local dir="$CACHE/${1//\//+}@$2"
  if [ ! -x "$dir/$3" ]; then
    say "fetching $1@$2 (npm pack)" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$1@$2" >/dev/null && tar xzf ./*.tgz --strip-components=1 && rm -f ./*.tgz)
    chmod +x "$dir/$3"
  fi
  echo "$dir/$3"
}

# The app: the packed tarball installed from the file, the smoke suite beside it.
npm run build --silent >/dev/null
APP=$(mktemp -d "${TMPDIR:-/tmp}/iocp-pool-runtimes.XXXXXX")
trap 'rm -rf "$APP"' EXIT
TGZ=$(npm pack --silent --pack-destination "$APP" | tail -n 1)
cat >"$APP/package.json" <<JSON
{ "name": "iocp-pool-smoke-app", "private": true, "type": "module", "dependencies": { "iocp-pool": "file:./$TGZ" } }
JSON
(cd "$APP" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
cp test/runtimes/*.mjs test/runtimes/*.cjs "$APP/"
# koffi is an optional peer: npm must not have installed it, and nothing above the app may provide it.
if (cd "$APP" && node -e "require.resolve('koffi')" 2>/dev/null); then
  echo "test-runtimes: koffi resolves from the app, but it is an optional peer that the app did not install" >&2
  exit 1
fi
say "app: $TGZ installed in $APP"

status=0
for rt in "${runtimes[@]}"; do
  case "$rt" in
    node) cmds=("node smoke.mjs" "node require.cjs") ; exe=node ;;
    bun) exe=$(fetch "$bun_pkg" "$BUN_VERSION" bin/bun); cmds=("$exe smoke.mjs" "$exe require.cjs") ;;
    # Deno: read access only (no --allow-env, --allow-sys, --allow-write...).
    deno) exe=$(fetch "$deno_pkg" "$DENO_VERSION" deno); cmds=("$exe run --allow-read smoke.mjs" "$exe run --allow-read require.cjs") ;;
    bundle)
      # A plain esbuild bundle of each entry, as a user would make it; no dist/iocp-pool-thread.mjs beside it.
      esbuild=$PWD/node_modules/.bin/esbuild
      (cd "$APP" && "$esbuild" smoke.mjs --bundle --platform=node --format=esm --outfile=bundled/smoke.mjs --log-level=warning \
        && "$esbuild" require.cjs --bundle --platform=node --format=cjs --outfile=bundled/require.cjs --log-level=warning \
        && cp handler.mjs port-worker.mjs bundled/)
      if [ -e "$APP/bundled/iocp-pool-thread.mjs" ]; then echo "test-runtimes: the bundle must not have dist/iocp-pool-thread.mjs beside it" >&2; exit 1; fi
      cmds=("node bundled/smoke.mjs" "node bundled/require.cjs") ;;
    *) echo "test-runtimes: unknown runtime '$rt' (node, bun, deno, bundle)" >&2; exit 1 ;;
  esac
  for cmd in "${cmds[@]}"; do
    say "── $rt: ${cmd//$CACHE\//.cache/runtimes/}"
    if ! (cd "$APP" && NO_COLOR=1 DENO_NO_UPDATE_CHECK=1 timeout 120 $cmd); then status=1; say "FAILED: $rt"; fi
  done
done
say "done: exit $status"
exit $status
