#!/usr/bin/env bash
# Installs the npm packages of the deploy checks (deploy/k8s/validate) from
# their committed package-lock.json into deploy/k8s/validate/node_modules
# (gitignored). Does nothing when that install is current.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/deploy/k8s/validate"
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm not found: scripts/install-deps.sh installs it" >&2
  exit 1
fi
echo "installing npm packages into $dir/node_modules" >&2
npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
