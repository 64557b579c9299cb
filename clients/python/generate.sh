#!/usr/bin/env bash
# Generates the Python message and stub modules of proto/sightline/*/v1 into
# OUT_DIR (default: clients/python/gen), with Debian's protoc and
# grpc_python_plugin (packages protobuf-compiler and protobuf-compiler-grpc).
# The generated modules are never committed: run this after every proto change.
#
#   clients/python/generate.sh [OUT_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/clients/python/gen}
PROTOC=${PROTOC:-protoc}
PLUGIN=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}
if [ -z "$PLUGIN" ]; then
  echo "grpc_python_plugin not found: run make deps (protobuf-compiler-grpc)" >&2
  exit 1
fi
mkdir -p "$OUT"
cd "$ROOT/proto"
"$PROTOC" -I. --python_out="$OUT" --grpc_out="$OUT" \
  --plugin=protoc-gen-grpc="$PLUGIN" sightline/*/v1/*.proto
