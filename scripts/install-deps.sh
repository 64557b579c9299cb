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
  libcurl4-openssl-dev nlohmann-json3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  golang-github-gogo-googleapis-dev
  # postgresql brings postgresql-15, which on Debian 12 also holds what
  # postgresql-contrib names (it provides postgresql-contrib-15): pgbench and
  # pg_stat_statements, used by `make bench` (BENCH_ONLY=pg).
  redis-server postgresql
  libmuparser-dev
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  prometheus nghttp2-client python3-grpcio python3-protobuf python3-yaml
)

# node and npm run the dashboard and Kubernetes schema checks (deploy/grafana/check,
# deploy/k8s/validate; packages pinned by their package-lock.json files and
# installed by scripts/npm-deps.sh). A Node.js from elsewhere brings its own npm,
# which Debian's npm package would conflict with.
if ! command -v npm > /dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# kubectl is not installed: Debian 12's kubernetes-client (1.20) embeds
# kustomize v2, which cannot render deploy/k8s (components, `labels`);
# tests/deploy_render_test.py renders with a kubectl >= 1.21 found on PATH and
# reports itself skipped without one.

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
