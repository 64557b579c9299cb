#!/usr/bin/env bash
# Builds the image sightline:0.1.0 with buildah, no registry involved:
#   debootstrap --variant=minbase bookworm  (from the Debian mirror; cached in
#   BUILD/image), the runtime libraries of runtime-packages.txt installed in
#   that root, apt and perl removed, every binary copied to /usr/local/bin,
#   user 65532, no compiler.
# Also builds sightline-redis:7.0 (the same root plus Debian's redis-server),
# which `make k8s-smoke` runs in place of the redis:7.0 image.
# Usage: deploy/image/build.sh BUILD_DIR   (run as root)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: build.sh BUILD_DIR}" && pwd)"
tag="${SIGHTLINE_IMAGE:-localhost/sightline:0.1.0}"
redis_tag="${SIGHTLINE_REDIS_IMAGE:-localhost/sightline-redis:7.0}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="$build/image"
binaries=(services/people/sightline-people services/goals/sightline-goals
          services/feedback/sightline-feedback services/metrics/sightline-metrics
          tools/cli/sightline)
mkdir -p "$work"
[ "$(id -u)" -eq 0 ] || { echo "build.sh runs debootstrap and chroot: run it as root" >&2; exit 1; }

for b in "${binaries[@]}"; do
  [ -x "$build/$b" ] || { echo "missing $build/$b: build first" >&2; exit 1; }
done

# The Debian root with the runtime libraries, cached by its package list.
mapfile -t packages < <(grep -v '^#' "$here/runtime-packages.txt")
key="$(printf '%s\n' bookworm "${packages[@]}" | sha256sum | cut -c1-12)"
base_tar="$work/rootfs-$key.tar"
if [ ! -f "$base_tar" ]; then
  root="$work/rootfs"
  rm -rf "$root"
  echo "debootstrap --variant=minbase bookworm" >&2
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log"
  chroot "$root" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$root" \
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
         "$root"/usr/share/locale/* "$root"/var/log/*
  tar -C "$root" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$root"
fi

# The application layer: the root plus the binaries and their user.
root="$work/root"
rm -rf "$root" && mkdir -p "$root"
tar -C "$root" -xf "$base_tar"
# Nothing installs packages at run time: no package manager, no perl.
chroot "$root" dpkg --purge --force-remove-essential --force-depends \
  apt libapt-pkg6.0 perl-base debconf >/dev/null 2>&1
rm -rf "$root"/var/cache/debconf "$root"/var/cache/apt "$root"/var/lib/apt
for b in "${binaries[@]}"; do
  install -m 0755 -s "$build/$b" "$root/usr/local/bin/"
done
echo "sightline:x:65532:65532:Sightline:/var/lib/sightline:/usr/sbin/nologin" >>"$root/etc/passwd"
echo "sightline:x:65532:" >>"$root/etc/group"
install -d -o 65532 -g 65532 "$root/var/lib/sightline"
# Every shared library the binaries need is in the root.
for b in "${binaries[@]}"; do
  if chroot "$root" ldd "/usr/local/bin/$(basename "$b")" | grep -q 'not found'; then
    chroot "$root" ldd "/usr/local/bin/$(basename "$b")" | grep 'not found' >&2
    exit 1
  fi
done
if chroot "$root" sh -c 'command -v cc gcc g++ c++' >/dev/null 2>&1; then
  echo "a compiler is in the image" >&2
  exit 1
fi

commit() {  # commit ROOT TAG USER ENTRYPOINT...
  local dir="$1" name="$2" user="$3"
  shift 3
  local ctr
  ctr="$(buildah from scratch)"
  buildah copy --quiet "$ctr" "$dir" / >/dev/null
  buildah config --user "$user" --workingdir /var/lib/sightline \
    --env PATH=/usr/local/bin:/usr/bin:/bin \
    --label org.opencontainers.image.title=sightline \
    --label org.opencontainers.image.base.name=debian:bookworm-minbase \
    "$@" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
}
commit "$root" "$tag" 65532:65532
echo "built $tag: $(podman image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec) " \
     "($(du -sh "$root" | cut -f1) on disk)" >&2

# The cache for the smoke test: the same root plus redis-server (cached too).
redis_tar="$work/redis-rootfs-$key.tar"
rroot="$work/redis-root"
rm -rf "$rroot" && mkdir -p "$rroot"
tar -C "$rroot" -xf "$base_tar"
if [ ! -f "$redis_tar" ]; then
  chroot "$rroot" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$rroot" \
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  chroot "$rroot" apt-get clean
  rm -rf "$rroot"/var/lib/apt/lists/*
  tar -C "$rroot" -cf "$redis_tar.tmp" . && mv "$redis_tar.tmp" "$redis_tar"
else
  tar -C "$rroot" -xf "$redis_tar"
fi
install -d -m 0777 "$rroot/data" "$rroot/var/lib/sightline"
commit "$rroot" "$redis_tag" 999:999 --entrypoint '["/usr/bin/redis-server"]'
rm -rf "$root" "$rroot"
echo "built $redis_tag" >&2
