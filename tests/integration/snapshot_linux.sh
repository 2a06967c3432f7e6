#!/usr/bin/env bash
# snapshot_linux.sh POPEK GUEST_DIR SNAP_ACCEL RESTORE_ACCEL [MODE]
#
# Linux (GUEST_DIR/vmlinux, the Debian kernel the other Linux tests boot) with a busybox shell on
# the console and a virtio-blk disk. The shell loads virtio_mmio + virtio_blk, writes a marker to
# the disk (dd conv=fsync), and counts in the background (`GUEST-COUNT n` every 0.2 s). Once it
# counted a few times, the VM is paused and snapshotted through the API, and popek is killed. A
# fresh popek restores it (--restore): the count goes on from where it stopped (no restart from 0),
# the shell still answers on the console, and reading the disk back (page cache dropped) shows the
# marker written before the snapshot. Exit 77 (skip) when the guest files are missing.
#
# MODE `xen` (default `virtio`): the same as a Xen PVH guest (`--xen`): the console is hvc0 on
# popek's xencons ring, the disk xen-blkfront's xvda on a popek vbd (event channels, grants,
# XenStore and the blkif ring all cross the snapshot; docs/snapshot.md "Xen guests").
# MODE `smp` (and `xen-smp`): the guest with two vCPUs (`--cpus 2`), one of them spinning in a process pinned
# to it when snapshotted; after the restore `nproc` is still 2 and work pinned to each CPU finishes.
set -uo pipefail
popek=$1 guest=$2 snap_accel=$3 restore_accel=$4 mode=${5:-virtio}
case $mode in virtio|xen|smp|xen-smp) ;; *) echo "snapshot_linux.sh: unknown mode $mode" >&2; exit 2;; esac
if [ "${mode%-smp}" = xen ]; then
  modules="xen-blkfront" disk_dev=/dev/xvda console=hvc0 vm_flags=--xen
else
  modules="virtio_mmio virtio_blk" disk_dev=/dev/vda console=ttyS0 vm_flags=
fi
[ "${mode#*smp}" != "$mode" ] && vm_flags="$vm_flags --cpus 2"
for f in "$guest/vmlinux" "$guest/bbroot/bin/busybox" "$guest/modules/deps/${modules##* }"; do
  [ -e "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; [ -n "${SNAP_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "---- $f (last 30 lines)"; tail -n 30 "$f"; done; exit 1; }

# An initramfs: busybox, the virtio-mmio and virtio-blk modules, and an /init that runs sh.
stage=$work/stage
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$guest/bbroot/bin/busybox" "$stage/bin/busybox"
for applet in $("$stage/bin/busybox" --list); do [ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"; done
for m in $modules; do
  while read -r ko; do cp "$guest/modules/$ko" "$stage/lib/modules/"; done <"$guest/modules/deps/$m"
done
cat >"$stage/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for ko in MODULES; do insmod /lib/modules/$ko.ko; done
n=0; while [ ! -b DISKDEV ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
echo GUEST-SHELL-READY
exec sh
INIT
if [ "${mode%-smp}" = xen ]; then kos=xen-blkfront; else kos="virtio_ring virtio virtio_mmio virtio_blk"; fi
sed -i "s/MODULES/$kos/; s|DISKDEV|$disk_dev|" "$stage/init"
chmod 755 "$stage/init"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/initrd.gz"
truncate -s 8M "$work/disk.img"

POPEK_TESTS_INTEGRATION=$(cd "$(dirname "$0")" && pwd) python3 - "$popek" "$guest/vmlinux" "$work" "$snap_accel" "$restore_accel" "$disk_dev" "$console" $vm_flags <<'PY' || exit 1
import os, re, signal, subprocess, sys, threading, time
popek, kernel, work, snap_accel, restore_accel, disk_dev, console = sys.argv[1:8]
extra = sys.argv[8:]
sys.path.insert(0, os.environ["POPEK_TESTS_INTEGRATION"])
from fc_api_client import collect_stdout, request

def wait_for(buf, lock, pattern, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lock:
            m = re.search(pattern, bytes(buf))
        if m:
            return m
        time.sleep(0.05)
    return None

def fail(msg, buf):
    print("FAIL: " + msg)
    print("---- console (last 2000 bytes)")
    print(bytes(buf)[-2000:].decode(errors="replace"))
    sys.exit(1)

sock = os.path.join(work, "api.sock")
snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
cmdline = f"console={console} quiet"
proc = subprocess.Popen([popek, "run", "--api-sock", sock, "--accel", snap_accel, "--mem", "256", "--kernel", kernel,
                         "--initrd", os.path.join(work, "initrd.gz"), "--cmdline", cmdline,
                         "--disk", os.path.join(work, "disk.img")] + extra,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
out, lock = bytearray(), threading.Lock()
threading.Thread(target=collect_stdout, args=(proc, out, lock), daemon=True).start()
if not wait_for(out, lock, rb"GUEST-SHELL-READY", 400):
    proc.kill(); fail("the shell did not come up", out)
proc.stdin.write(b"printf 'SNAP-DISK-MARKER-42\\0' | dd of=" + disk_dev.encode() + b" bs=512 conv=sync,fsync 2>/dev/null && echo GUEST-DISK-WRIT\"\"TEN\n")
proc.stdin.write(b"i=0; while true; do echo GUEST-COUNT $i; i=$((i+1)); sleep 0.2; done &\n")
smp = "--cpus" in extra
if smp:
    # CPU 1 is busy in a pinned process when the snapshot is taken.
    proc.stdin.write(b"echo GUEST-NPROC-BEFORE $(nproc); taskset -c 1 sh -c 'while true; do :; done' &\n")
proc.stdin.flush()
if not wait_for(out, lock, rb"GUEST-DISK-WRITTEN", 120):
    proc.kill(); fail("the disk write did not finish", out)
if not wait_for(out, lock, rb"GUEST-COUNT 5\b", 120):
    proc.kill(); fail("the guest does not count", out)
st, body = request(sock, "PATCH", "/vm", {"state": "Paused"})
if st != 204: proc.kill(); fail(f"pause: {st} {body}", out)
st, body = request(sock, "PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
if st != 204: proc.kill(); fail(f"snapshot/create: {st} {body}", out)
proc.send_signal(signal.SIGKILL)
proc.wait()
time.sleep(0.2)
with lock:
    counts = [int(n) for n in re.findall(rb"GUEST-COUNT (\d+)", bytes(out))]
last = max(counts)
print(f"ok   snapshot taken at GUEST-COUNT {last} (memory file {os.stat(mem).st_blocks * 512 >> 20} MiB allocated of 256)")

# ---- restore in a fresh process ----
err_file = open(os.path.join(work, "restore.err"), "w+b")
proc = subprocess.Popen([popek, "run", "--accel", restore_accel, "--restore", snap, "--restore-mem", mem],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_file)
out2 = bytearray()
threading.Thread(target=collect_stdout, args=(proc, out2, lock), daemon=True).start()
m = wait_for(out2, lock, rb"GUEST-COUNT (\d+)", 120)
if not m:
    proc.kill(); fail("the restored guest does not count", out2)
first = int(m.group(1))
if not (last <= first <= last + 2):
    proc.kill(); fail(f"the restored count starts at {first}, the snapshot was at {last}", out2)
print(f"ok   the restored guest counts on from {first}")
if not wait_for(out2, lock, rb"GUEST-COUNT " + str(first + 5).encode() + rb"\b", 120):
    proc.kill(); fail("the restored guest stopped counting", out2)
print(f"ok   it keeps counting (GUEST-COUNT {first + 5})")
proc.stdin.write(b"echo 3 >/proc/sys/vm/drop_caches; dd if=" + disk_dev.encode() + b" bs=512 count=1 2>/dev/null | tr '\\0' '\\n' | head -n 1 | sed \"s/^/GUEST-READ\"\"-BACK /\"\n")
proc.stdin.flush()
m = wait_for(out2, lock, rb"GUEST-READ-BACK (\S+)", 120)
if not m or m.group(1) != b"SNAP-DISK-MARKER-42":
    proc.kill(); fail(f"reading the disk back after the restore gave {m.group(1) if m else None}", out2)
print("ok   the disk write made before the snapshot is there after it")
if smp:
    proc.stdin.write(b"echo GUEST-NPROC-AFTER $(nproc); for c in 0 1; do taskset -c $c sh -c 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo GUEST-WORKED-ON-CPU'$c; done\n")
    proc.stdin.flush()
    m = wait_for(out2, lock, rb"GUEST-NPROC-AFTER (\d+)", 60)
    if not m or m.group(1) != b"2":
        proc.kill(); fail(f"nproc after the restore is {m.group(1) if m else None}, expected 2", out2)
    for c in (0, 1):
        if not wait_for(out2, lock, b"GUEST-WORKED-ON-CPU%d" % c, 120):
            proc.kill(); fail(f"work pinned to CPU {c} did not finish after the restore", out2)
    print("ok   nproc is still 2 and work pinned to each CPU finishes after the restore")
proc.stdin.write(b"poweroff -f\n")
proc.stdin.flush()
try:
    proc.wait(timeout=120)
except subprocess.TimeoutExpired:
    proc.kill(); fail("the restored guest did not power off", out2)
if proc.returncode != 0:
    err_file.seek(0)
    fail(f"popek exited with {proc.returncode} after poweroff: {err_file.read().decode(errors='replace')}", out2)
with lock:
    bad = re.search(rb"Kernel panic|BUG:|Oops|rcu_sched self-detected|watchdog: BUG", bytes(out2))
if bad:
    fail("the restored kernel reported a problem: " + bad.group(0).decode(), out2)
print("PASS: Linux%s snapshotted under %s, restored under %s" % (" (" + " ".join(extra) + ")" if extra else "", snap_accel, restore_accel))
PY
