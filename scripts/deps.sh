# Sourced by run.sh and test.sh: installs the Debian packages Parley builds with, only those
# missing (asking apt for already-installed packages would upgrade them).
# Safe to run any number of times.

parley_packages=(
  g++ cmake ninja-build pkg-config
  libboost-dev libboost-system-dev libssl-dev libsqlite3-dev liburing-dev
  libmsgpack-cxx-dev libcereal-dev rapidjson-dev libgtest-dev libbenchmark-dev
)
# The wasm build (protocol + client engine compiled with Emscripten, tests run under node).
parley_wasm_packages=(emscripten)
# The browser tests: Debian's Chromium driven by playwright-core (npm, installed by ctest's
# browser.npm_ci fixture; it downloads no browser of its own).
parley_browser_packages=(chromium fonts-liberation)

parley_ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "parley: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      echo "parley: need root to install packages: ${missing[*]}" >&2
      return 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}
