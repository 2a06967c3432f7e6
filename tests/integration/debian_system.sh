#!/usr/bin/env bash
# debian_system.sh POPEK DIR ARGS...: debian_system.py on popek with the image in DIR; exit 77
# (skip) when the image is missing (debian_image.sh skipped: archive unreachable, not root).
set -uo pipefail
popek=$1 dir=$2; shift 2
for f in debian12.img vmlinuz vmlinux initrd.img; do
  [ -s "$dir/$f" ] || { echo "SKIP: $dir/$f missing (tools/make-debian-rootfs.sh could not build the image)"; exit 77; }
done
exec python3 "$(dirname "$0")/debian_system.py" --vmm popek --bin "$popek" --dir "$dir" "$@"
