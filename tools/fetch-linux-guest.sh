#!/usr/bin/env bash
# fetch-linux-guest.sh [OUT]
#
# Gets the stock Debian guest (kernel vmlinux + bzImage vmlinuz, busybox initrds) for popek's
# Linux integration test and benchmark, cached under the build directory so CI fetches it once:
# it runs the shared baseline script fetch-guest.sh (apt-get download + dpkg-deb -x, nothing is
# installed) into OUT, then builds popek's own initrd (tools/make-linux-initrd.sh).
#   OUT                 default: build/linux-guest
#   POPEK_BASELINE_DIR  where fetch-guest.sh lives (default: the shared/baseline directory next
#                       to this checkout or next to its parent: ../shared or ../../shared)
#   POPEK_GUEST_SEED    a fetch-guest.sh output whose downloaded .debs are reused instead of
#                       downloading them again (default: /tmp/vmm-guest when it exists)
# Exit status: 0 when OUT is ready; 77 (the "skipped" code of ctest's SKIP_RETURN_CODE) when
# the guest cannot be had (no baseline script, package registry unreachable), with the reason on
# stderr; anything else is a real failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/linux-guest}
skip() { echo "fetch-linux-guest: SKIP: $*" >&2; exit 77; }

baseline=${POPEK_BASELINE_DIR:-}
if [ -z "$baseline" ]; then
  for d in "$ROOT/../shared/baseline" "$ROOT/../../shared/baseline"; do
    [ -x "$d/fetch-guest.sh" ] && { baseline=$(cd "$d" && pwd); break; }
  done
fi
[ -n "$baseline" ] && [ -x "$baseline/fetch-guest.sh" ] ||
  skip "no shared/baseline/fetch-guest.sh found (set POPEK_BASELINE_DIR)"

mkdir -p "$OUT/debs"
seed=${POPEK_GUEST_SEED:-/tmp/vmm-guest}
if [ -d "$seed/debs" ] && [ "$(cd "$seed" && pwd)" != "$(cd "$OUT" && pwd)" ]; then
  for deb in "$seed"/debs/*.deb; do
    [ -e "$deb" ] || continue
    [ -s "$OUT/debs/$(basename "$deb")" ] || ln -f "$deb" "$OUT/debs/" 2>/dev/null || cp "$deb" "$OUT/debs/"
  done
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$baseline/fetch-guest.sh" "$OUT" >"$log" 2>&1; then
  cat "$log" >&2
  # Without the kernel package nothing can be tested: a registry problem, not a popek bug.
  [ -s "$OUT/vmlinux" ] || skip "fetch-guest.sh failed (package registry unreachable?)"
  exit 1
fi
"$ROOT/tools/make-linux-initrd.sh" "$OUT"
for f in vmlinux vmlinuz initrd-min.cpio.gz initrd-popek.cpio.gz; do
  [ -s "$OUT/$f" ] || { echo "fetch-linux-guest: $OUT/$f missing" >&2; exit 1; }
done
echo "$OUT"
