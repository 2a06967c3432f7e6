#!/usr/bin/env bash
# debian_image.sh DIR: the ctest fixture that builds (or finds up to date) the Debian 12 system
# image of tools/make-debian-rootfs.sh in DIR (debian12.img, vmlinuz, vmlinux, initrd.img).
# Exit 77 (skip) with the reason when it cannot be built here: not root, no debootstrap, or the
# Debian archive unreachable; the debian_system_* tests then skip too (no image).
set -uo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
make=$here/../../tools/make-debian-rootfs.sh
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "building the Debian image needs root (debootstrap)"
command -v debootstrap >/dev/null || skip "debootstrap missing (tools/install-deps.sh installs it)"
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
if ! timeout 20 curl -fsS -o /dev/null "$mirror/dists/bookworm/Release" 2>/dev/null; then
  if [ -s "$dir/debian12.img" ] && [ -s "$dir/initrd.img" ]; then
    echo "the Debian archive ($mirror) is unreachable: using the cached image in $dir"; exit 0
  fi
  skip "the Debian archive ($mirror) is unreachable and no image is cached in $dir"
fi
exec "$make" "$dir/debian12.img"
