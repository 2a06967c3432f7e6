#!/usr/bin/env bash
# make-debian-rootfs.sh IMG [SIZE]
#
# Builds a Debian 12 (bookworm) system on a raw ext4 image IMG (default SIZE 2G) for popek:
# debootstrap minbase plus systemd-sysv, udev, iproute2, systemd-networkd (DHCP on every wired
# interface), iputils-ping, procps and linux-image-amd64, whose initramfs-tools initrd carries the
# virtio-mmio and Xen front-end modules (virtio_blk, virtio_net, xen-blkfront, xen-netfront). root
# logs in without a password on the consoles systemd gets from the kernel command line (ttyS0,
# hvc0). The ext4 file system is made from the tree with `mkfs.ext4 -d` (no loop device needed)
# and labelled debian-root (/etc/fstab mounts LABEL=debian-root, so the same image boots as vda
# under virtio and as xvda under --xen).
#
# Next to IMG it writes the image's kernel and initrd for `popek run`:
#   vmlinuz      the bzImage of the installed kernel
#   vmlinux      the ELF with the Xen PVH note, extracted from vmlinuz (for --xen)
#   initrd.img   the initramfs-tools initrd
#   IMG.stamp    what was built (script hash, kernel version); a rerun with the same script and
#                all files present does nothing, so the image can live in a cache.
# The debootstrap tree is kept in IMG.rootfs/ so a rebuild of the image skips the download.
# Packages come from the archive apt uses here (the first URIs: of /etc/apt/sources.list.d/
# debian.sources, else deb.debian.org). Needs root, debootstrap and e2fsprogs (mkfs.ext4 -d).
# Exit status: 0 built or up to date, 2 usage error, 1 build failure.
set -euo pipefail
log() { printf 'make-debian-rootfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { echo "usage: make-debian-rootfs.sh IMG [SIZE]   (SIZE as truncate takes it, default 2G)" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
img=$1 size=${2:-2G}
[[ $size =~ ^[0-9]+[KMG]?$ ]] || { echo "make-debian-rootfs: bad SIZE '$size' (e.g. 2G, 1536M)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "make-debian-rootfs: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "make-debian-rootfs: debootstrap missing (apt-get install debootstrap)" >&2; exit 2; }
command -v mkfs.ext4 >/dev/null || { echo "make-debian-rootfs: mkfs.ext4 missing (apt-get install e2fsprogs)" >&2; exit 2; }

mkdir -p "$(dirname "$img")"
img=$(cd "$(dirname "$img")" && pwd)/$(basename "$img")
out=$(dirname "$img")
root=$img.rootfs
stamp=$img.stamp
self_hash=$(sha256sum "$0" | cut -d' ' -f1)
want="script=$self_hash size=$size"

if [ -s "$img" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && [ -s "$out/initrd.img" ] &&
   [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
  log "up to date: $img ($(sed -n 2p "$stamp"))"
  exit 0
fi

mirror=http://deb.debian.org/debian
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
  m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  [ -n "$m" ] && mirror=$m
fi

# ---- 1. debootstrap (kept between runs: the download is most of the time) ------------------
pkgs=systemd-sysv,udev,iproute2,iputils-ping,procps,kmod,initramfs-tools,linux-image-amd64,e2fsprogs
if [ ! -f "$img.debootstrap-done" ] || [ "$(cat "$img.debootstrap-done")" != "$pkgs" ]; then
  rm -rf "$root"
  log "debootstrap bookworm (minbase + $pkgs) from $mirror into $root"
  debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror" >"$img.debootstrap.log" 2>&1 ||
    { tail -n 20 "$img.debootstrap.log" >&2; die "debootstrap failed (full log: $img.debootstrap.log)"; }
  echo "$pkgs" >"$img.debootstrap-done"
else
  log "reusing the debootstrap tree $root"
fi

# ---- 2. configure ---------------------------------------------------------------------------
log "configuring: fstab, hostname, passwordless root, systemd-networkd DHCP, initrd modules"
cat >"$root/etc/fstab" <<'EOF'
# popek: the same image is /dev/vda (virtio-blk) or /dev/xvda (--xen), so mount by label
LABEL=debian-root  /  ext4  errors=remount-ro  0  1
EOF
echo popek-debian >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 popek-debian\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
mkdir -p "$root/etc/systemd/network"
cat >"$root/etc/systemd/network/20-wired.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
cat >"$root/etc/initramfs-tools/modules" <<'EOF'
# popek: the root disk and network on virtio-mmio (ACPI LNRO0005) or Xen PV front ends
virtio_mmio
virtio_blk
virtio_net
xen-blkfront
xen-netfront
ext4
EOF
# `/dev/ttyS0` and `hvc0` get their gettys from systemd-getty-generator (console= on the
# command line); root's empty password is accepted by pam_unix nullok (Debian's common-auth).
chroot "$root" /bin/sh -ec '
  passwd -d root >/dev/null
  systemctl enable systemd-networkd.service >/dev/null 2>&1
  # nothing waits for the network; is-system-running would otherwise wait for wait-online
  systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1
  ln -sf /proc/self/mounts /etc/mtab
'
krel=$(cd "$root/lib/modules" && ls | sort -V | tail -n 1)
[ -n "$krel" ] || die "no kernel in $root/lib/modules"
log "building the initrd for $krel (update-initramfs)"
chroot "$root" update-initramfs -u -k "$krel" >"$img.initramfs.log" 2>&1 ||
  { tail -n 20 "$img.initramfs.log" >&2; die "update-initramfs failed (log: $img.initramfs.log)"; }
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* 2>/dev/null || true

# ---- 3. kernel files for popek --------------------------------------------------------------
cp "$root/boot/vmlinuz-$krel" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$root/boot/initrd.img-$krel" "$out/initrd.img.tmp" && mv "$out/initrd.img.tmp" "$out/initrd.img"
off=$(LC_ALL=C grep -m1 -obUaP '\xfd7zXZ\x00' "$out/vmlinuz" | cut -d: -f1)
[ -n "$off" ] || die "no xz payload in vmlinuz"
# xz stops at the end of its stream, so tail may die of SIGPIPE: judge by xz only
(set +o pipefail; tail -c +$((off + 1)) "$out/vmlinuz" | xz -dc --single-stream >"$out/vmlinux.tmp")
mv "$out/vmlinux.tmp" "$out/vmlinux"

# ---- 4. the ext4 image ----------------------------------------------------------------------
log "making $img ($size, ext4 from the tree, mkfs.ext4 -d)"
rm -f "$img.tmp"
truncate -s "$size" "$img.tmp"
mkfs.ext4 -q -F -L debian-root -d "$root" "$img.tmp" || die "mkfs.ext4 -d failed"
mv "$img.tmp" "$img"
printf '%s\nkernel=%s\n' "$want" "$krel" >"$stamp"
log "done: $img, $out/vmlinuz, $out/vmlinux, $out/initrd.img (kernel $krel)"
