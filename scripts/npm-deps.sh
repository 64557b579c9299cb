#!/usr/bin/env bash
# Installs the npm packages a check needs, exactly as its committed
# package-lock.json pins them:
#
#   scripts/npm-deps.sh SOURCE_DIR [DEST_DIR]
#
# SOURCE_DIR holds package.json and package-lock.json (deploy/grafana/check,
# deploy/k8s/validate). DEST_DIR (default: SOURCE_DIR, whose node_modules is
# gitignored) gets a copy of both and node_modules. Does nothing when DEST_DIR
# already holds what the lock file asks for.
set -euo pipefail
SRC=$(cd "$1" && pwd)
DEST=${2:-$SRC}
command -v npm > /dev/null || { echo "npm is missing: run scripts/install-deps.sh" >&2; exit 1; }
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
stamp="$DEST/node_modules/.package-lock.json"
if [ "$SRC" != "$DEST" ]; then
  if cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json" &&
     cmp -s "$SRC/package.json" "$DEST/package.json" && [ -f "$stamp" ]; then
    exit 0
  fi
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
elif [ -f "$stamp" ] && [ "$stamp" -nt "$SRC/package-lock.json" ]; then
  exit 0
fi
echo "installing npm packages into $DEST/node_modules" >&2
cd "$DEST"
npm ci --no-audit --no-fund --loglevel=error > /dev/null
