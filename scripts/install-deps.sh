#!/usr/bin/env bash
# Installs the Debian 12 packages Sightline builds, runs and tests with.
# Idempotent: installs only what is missing; uses sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev grpc-proto
  libabsl-dev libhiredis-dev prometheus-cpp-dev
  libsqlite3-dev libpq-dev libsoci-dev libboost-dev
  libjwt-dev libssl-dev openssl
  libcurl4-openssl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  golang-github-gogo-googleapis-dev
  redis-server postgresql
  libmuparser-dev
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  prometheus nghttp2-client python3-grpcio python3-protobuf python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
