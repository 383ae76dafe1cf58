#!/usr/bin/env bash
# Installs exactly the Debian packages streamsim needs, skipping what is present.
# Idempotent: a second run with everything installed touches nothing and never
# calls apt-get. Works as root or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  librdkafka-dev          # librdkafka C and C++ (rdkafka, rdkafka++ via pkg-config)
  libboost-fiber-dev      # Boost.Fiber (pulls Boost.Context)
  libboost-dev            # header-only Boost (Boost.CRC for checksums)
  librapidcheck-dev       # property tests
  catch2                  # unit tests (Catch2 2.13)
  libspdlog-dev           # logging
  libprotobuf-dev protobuf-compiler  # scenario schema
  chromium                # headless browser for the HTML report test (label browser)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    "install ok installed") ;;
    *) missing+=("$p") ;;
  esac
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 2; fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
