#!/usr/bin/env bash
# Builds Parley (release, and the WASM SDK for the web demo) and starts parley-server on
# http://127.0.0.1:8080 with its embedded store in ./data and DEVELOPMENT MODE ON (it hands out
# tokens to anyone who asks, for local demos only). Safe to run twice. Extra arguments are
# passed to parley-server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
parley_ensure_packages "${parley_packages[@]}" "${parley_wasm_packages[@]}"

# The web demo's SDK (parley.mjs + parley.wasm, copied into web-demo/vendor/).
cmake --preset wasm >/dev/null
cmake --build --preset wasm --target parley_wasm

cmake --preset release -DPARLEY_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release -j "${PARLEY_JOBS:-2}" --target parley-server parley

web_args=()
if [ -f web-demo/index.html ]; then web_args=(--web-root web-demo); fi

cat <<'BANNER'
==============================================================================
 parley-server: DEVELOPMENT MODE (--dev). Anyone on this machine can get a
 token from POST /api/v1/dev/token. Do not expose this server.
 Web demo:                  http://127.0.0.1:8080/
 Chat from two terminals:   build/release/client-sdk/cli/parley --user alice
                            build/release/client-sdk/cli/parley --user bob
==============================================================================
BANNER
mkdir -p data
exec build/release/server/parley-server --host 127.0.0.1 --port 8080 --data data --dev \
  "${web_args[@]}" "$@"
