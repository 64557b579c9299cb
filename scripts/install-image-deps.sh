#!/usr/bin/env bash
# Installs what `make image` and `make k8s-smoke` need (not needed by `make test`):
# debootstrap for the root file system, buildah to make the image, podman and
# runc to run it. Idempotent; uses sudo when not root.
set -euo pipefail

PACKAGES=(debootstrap buildah podman runc catatonit uidmap fuse-overlayfs)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
