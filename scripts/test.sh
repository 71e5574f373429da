#!/usr/bin/env bash
# Builds everything and runs every test: the protocol and engine suites natively and compiled to
# WebAssembly (run under node), the integration suites against the real parley-server, and the
# browser suites (web demo + WASM SDK in headless Chromium).
# Ends with ctest's summary. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
parley_ensure_packages "${parley_packages[@]}" "${parley_wasm_packages[@]}" \
  "${parley_browser_packages[@]}"

jobs=${PARLEY_JOBS:-2}

# 1. WebAssembly build of protocol/ + client-sdk/core and their test suites.
cmake --preset wasm -DPARLEY_BUILD_TESTS=ON >/dev/null
cmake --build --preset wasm -j "$jobs"

# 2. Native build; its ctest also runs the wasm test binaries under node, so one summary
#    covers native and browser parity.
cmake --preset native -DPARLEY_BUILD_TESTS=ON -DPARLEY_WASM_BUILD_DIR="$PWD/build/wasm" >/dev/null
cmake --build --preset native -j "$jobs"

# 3. Fuzzing smoke: every libFuzzer target (clang-14, ASan + UBSan) for a bounded time on its
#    checked-in corpus and regression inputs; a crash or broken invariant fails the run and
#    leaves its reproducer in build/fuzz/crashes/. Long campaigns: fuzz/README.md.
bash fuzz/run.sh --build 15

# 4. The native suites again, built with AddressSanitizer + UndefinedBehaviorSanitizer and leak
#    detection (the server processes the integration tests start are instrumented too).
cmake --preset asan -DPARLEY_BUILD_TESTS=ON >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan --timeout 600 -j "$jobs"

# 5. Everything, natively; this summary ends the run.
cd build/native
ctest --output-on-failure --timeout 600 -j "$jobs"
