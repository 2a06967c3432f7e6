#!/usr/bin/env bash
# debian_image.sh DIR: the ctest fixture that builds (or finds up to date) the Debian 12 system
# image of tools/make-debian-rootfs.sh in DIR (debian12.img, vmlinuz, vmlinux, initrd.img).
# Where it cannot be built (not root, no debootstrap, the Debian archive unreachable) a cached
# image is used as it is; without one, exit 77 (skip) with the reason, and the debian_system_*
# tests skip too (no image).
set -uo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
make=$here/../../tools/make-debian-rootfs.sh
cached=1
for f in debian12.img vmlinuz vmlinux initrd.img; do [ -s "$dir/$f" ] || cached=0; done
cannot() {
  if [ "$cached" = 1 ]; then echo "$*: using the cached image in $dir as it is"; exit 0; fi
  echo "SKIP: $* and no image is cached in $dir"; exit 77
}
[ "$(id -u)" = 0 ] || cannot "building the Debian image needs root (debootstrap)"
command -v debootstrap >/dev/null || cannot "debootstrap missing (tools/install-deps.sh installs it)"
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
timeout 20 curl -fsS -o /dev/null "$mirror/dists/bookworm/Release" 2>/dev/null ||
  cannot "the Debian archive ($mirror) is unreachable"
exec "$make" "$dir/debian12.img"
