#!/usr/bin/env bash
# Installs every Debian 12 package popek needs to build, test and benchmark. Run as root.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build g++ binutils pkg-config
  libzydis-dev libcli11-dev nlohmann-json3-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libxen-dev libsodium-dev libslirp-dev libseccomp-dev liburing-dev libxbyak-dev linux-libc-dev
  clang-16 libfuzzer-16-dev libclang-rt-16-dev
  qemu-system-x86 time cpio kmod xz-utils
  libcpp-httplib-dev curl   # the API socket (src/api) and its curl test
  gdb   # the gdb stub's integration tests (tests/integration/gdb_*.sh)
  debootstrap e2fsprogs   # tools/make-debian-rootfs.sh (the Debian system image, docs/distro.md)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
