#!/usr/bin/env bash
# Installs the npm packages a check needs, exactly as its committed
# package-lock.json pins them, into a directory outside the source tree:
#
#   scripts/npm-deps.sh SOURCE_DIR DEST_DIR
#
# SOURCE_DIR holds package.json and package-lock.json (e.g. deploy/grafana/check);
# DEST_DIR (under the build directory) gets a copy of both and node_modules.
# Does nothing when DEST_DIR already holds what the lock file asks for.
set -euo pipefail
SRC=$1
DEST=$2
command -v npm > /dev/null || { echo "npm is missing: run scripts/install-deps.sh" >&2; exit 1; }
mkdir -p "$DEST"
if cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json" &&
   cmp -s "$SRC/package.json" "$DEST/package.json" &&
   [ -f "$DEST/node_modules/.package-lock.json" ]; then
  exit 0
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
cd "$DEST"
npm ci --no-audit --no-fund --loglevel=error
