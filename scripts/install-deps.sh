#!/usr/bin/env bash
# Installs the Debian 12 packages anteroom builds and tests with, when they are missing.
# Runs apt-get only as root; otherwise prints the command to run.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libboost1.81-all-dev libssl-dev libjemalloc-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl
)
if [[ "${1:-}" == "--bench" ]]; then
  # redis-server: redis_store.sh; valgrind: instructions.sh; linux-perf: syscalls.sh
  packages+=(wrk nginx-light haproxy redis-server valgrind linux-perf)
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  # make fuzz (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes.
  packages+=(clang-14 libclang-rt-14-dev)
fi
if [[ "${1:-}" == "--test" ]]; then
  # The browser end-to-end test: headless Chromium driven over the DevTools protocol; testssl.sh
  # checks the TLS listener (tests/tls/testssl.sh); slowhttptest attacks it (tests/attack/);
  # systemd-analyze checks conf/anteroom.service (tests/ops/); redis-server backs the Redis tests.
  packages+=(chromium python3-websocket testssl.sh slowhttptest systemd redis-server)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "anteroom needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
