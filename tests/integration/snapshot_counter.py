#!/usr/bin/env python3
"""snapshot_counter.py POPEK COUNTER_ELF SNAP_ACCEL RESTORE_ACCEL [--xen | --xen-share | --xen-ddom]: bit-exact snapshot and restore.

The counter guest (tests/guests/counter.S) prints lines that depend on its CPU, SSE and memory
state only. It runs once uninterrupted (the reference). Then it runs under SNAP_ACCEL with the API
socket: once it has printed a few lines it is paused and snapshotted (PUT /snapshot/create; while
running that is refused with 400), and the process is killed. A fresh popek restores it under
RESTORE_ACCEL twice: with `popek run --restore` and with PUT /snapshot/load (mem_backend File,
resume_vm). Each time, what the first process printed followed by what the restored one prints
must be exactly the reference. A memory file of the wrong size and a corrupted snapshot are
refused: status 2 and one line on stderr, or 400 from the API, and nothing runs.

With --xen the guest is tests/guests/xen/xen_counter.c, a Xen guest (`--xen --disk FILE`) whose
lines depend on what its XenStore and its vbd (event channel, grants, blkif ring) give back: the
Xen platform crosses the snapshot too. It ends with a poweroff (status 0), not debug-exit.

With --xen-share the guest is tests/guests/xen/xen_share_counter.c (`--xen --share DIR`): it keeps
two popekfs handles open across the whole run, reading the next chunk of data.bin and appending to
log.txt every round, so the snapshot falls between two reads on open handles. Each restore serves
a copy of DIR as it was at the snapshot, made elsewhere (`--share COPY`: the handles are reopened
by path beneath it); log.txt must end as the uninterrupted run's. A copy whose data.bin is gone is
refused: status 2, one line naming it, and nothing runs.

With --xen-ddom the guest is xen_counter.c again, with `--driver-domain`: its vbd's requests are
carried out by a `popek backend` process, which the restore starts afresh (the snapshot's CONF
says so); the guest's disk I/O goes on through it."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fc_api_client import collect_stdout, request, start_popek  # noqa: E402

popek, counter, snap_accel, restore_accel = sys.argv[1:5]
share = "--xen-share" in sys.argv[5:]
ddom = "--xen-ddom" in sys.argv[5:]
xen = share or ddom or "--xen" in sys.argv[5:]
work = tempfile.mkdtemp(prefix="popek-snap-")
done_status = 0 if xen else 1   # poweroff, or debug-exit 0


def share_dir(name):
    """A fresh --share directory: data.bin (64 KiB, byte i = i * 7 mod 251), no log.txt yet."""
    d = os.path.join(work, name)
    os.makedirs(d)
    with open(os.path.join(d, "data.bin"), "wb") as f:
        f.write(bytes(i * 7 % 251 for i in range(64 << 10)))
    return d


def guest_args(disk_name):
    """The VM's own options: a Xen guest gets a fresh 1 MiB disk of its own (or a --share DIR)."""
    if not xen:
        return []
    if share:
        return ["--xen", "--share", share_dir(disk_name + ".d")]
    disk = os.path.join(work, disk_name)
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    return ["--xen", "--disk", disk] + (["--driver-domain"] if ddom else [])
snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""))
    if not ok:
        fails.append(name)


def run(args, timeout=120):
    return subprocess.run([popek, "run"] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


reference = run(["--accel", snap_accel, "--kernel", counter, "--mem", "64"] + guest_args("reference.img"))
check(f"the uninterrupted run ends with status {done_status}", reference.returncode == done_status, reference.returncode)
check("the uninterrupted run finishes", reference.stdout.endswith(b"counter: done\n"))

# ---- snapshot mid-run ----
sock = os.path.join(work, "api.sock")
proc = start_popek(popek, sock, ["--accel", snap_accel, "--kernel", counter, "--mem", "64"] + guest_args("snap.img"))
out = bytearray()
lock = threading.Lock()

t = threading.Thread(target=collect_stdout, args=(proc, out, lock), daemon=True)
t.start()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    with lock:
        if b"count 3 " in out:
            break
    time.sleep(0.005)
status, body = request(sock, "PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
check("snapshot/create while running is refused with 400", status == 400 and "not paused" in body["fault_message"], status)
status, _ = request(sock, "PATCH", "/vm", {"state": "Paused"})
check("PATCH /vm Paused", status == 204, status)
status, body = request(sock, "PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
check("snapshot/create on the paused VM answers 204", status == 204, body)
proc.send_signal(signal.SIGKILL)
proc.wait()
t.join(5)
prefix = bytes(out)
check("the snapshot was taken mid-run", b"count 3 " in prefix and b"counter: done" not in prefix,
      prefix.decode(errors="replace").splitlines()[-1:] if prefix else "no output")
check("the memory file has the guest's RAM size (64 MiB)", os.path.exists(mem) and os.path.getsize(mem) == 64 << 20)
check("the memory file is sparse", os.path.exists(mem) and os.stat(mem).st_blocks * 512 < 8 << 20,
      f"{os.stat(mem).st_blocks * 512 if os.path.exists(mem) else 0} bytes allocated")

snap_share = os.path.join(work, "snap.img.d")


def share_copy(name):
    """The share as it was at the snapshot, elsewhere: the restoring run's --share."""
    d = os.path.join(work, name)
    shutil.copytree(snap_share, d)
    return d


def log_of(d):
    with open(os.path.join(d, "log.txt"), "rb") as f:
        return f.read()


restore_share = ["--share", share_copy("restore.d")] if share else []
if share:
    check("the snapshot was taken with log.txt half written", 0 < len(log_of(snap_share)) < len(log_of(os.path.join(work, "reference.img.d"))))

# ---- restore: command line ----
restored = run(["--accel", restore_accel, "--restore", snap, "--restore-mem", mem] + restore_share)
check(f"--restore under {restore_accel} ends like the uninterrupted run (status {done_status})",
      restored.returncode == done_status,
      restored.stderr.decode(errors="replace").strip())
check(f"{snap_accel} snapshot + {restore_accel} restore prints exactly the uninterrupted output",
      prefix + restored.stdout == reference.stdout, f"{len(prefix)}+{len(restored.stdout)} vs {len(reference.stdout)} bytes")
if share:
    check("the restored run's log.txt (in the other directory) is the uninterrupted run's",
          log_of(restore_share[1]) == log_of(os.path.join(work, "reference.img.d")))
    gone = share_copy("gone.d")
    os.unlink(os.path.join(gone, "data.bin"))
    bad = run(["--accel", restore_accel, "--restore", snap, "--restore-mem", mem, "--share", gone])
    err = bad.stderr.decode(errors="replace").strip()
    check("a share whose open file is gone: status 2, one line naming it, no output",
          bad.returncode == 2 and len(err.splitlines()) == 1 and "data.bin" in err and not bad.stdout, err)

# ---- restore: API ----
sock2 = os.path.join(work, "api2.sock")
proc2 = start_popek(popek, sock2, ["--accel", restore_accel] + (["--xen", "--share", share_copy("api.d")] if share else []))
status, body = request(sock2, "PUT", "/snapshot/load", {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem[:-1] + "x"}, "resume_vm": True})
check("snapshot/load of a missing memory file is refused with 400", status == 400, body)
status, body = request(sock2, "PUT", "/snapshot/load", {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem}, "resume_vm": True})
check("snapshot/load answers 204", status == 204, body)
status, body = request(sock2, "PUT", "/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem})
check("a second snapshot/load is refused (not after start)", status == 400, body)
try:
    api_out, _ = proc2.communicate(timeout=120)
except subprocess.TimeoutExpired:
    proc2.kill()
    api_out, _ = proc2.communicate()
check("the API-loaded VM prints exactly the rest of the uninterrupted output", prefix + api_out == reference.stdout,
      f"{len(prefix)}+{len(api_out)} vs {len(reference.stdout)} bytes")
if share:
    check("the API-loaded run's log.txt is the uninterrupted run's",
          log_of(os.path.join(work, "api.d")) == log_of(os.path.join(work, "reference.img.d")))

# ---- hostile files: nothing starts ----
short = os.path.join(work, "short.mem")
with open(mem, "rb") as src, open(short, "wb") as dst:
    dst.write(src.read(1 << 20))
bad = run(["--accel", restore_accel, "--restore", snap, "--restore-mem", short])
err = bad.stderr.decode(errors="replace").strip()
check("a memory file of the wrong size: status 2, one line, no output", bad.returncode == 2 and len(err.splitlines()) == 1
      and "bytes of RAM" in err and not bad.stdout, err)
corrupt = os.path.join(work, "corrupt.snap")
shutil.copy(snap, corrupt)
with open(corrupt, "r+b") as f:
    f.seek(40)
    b = f.read(1)
    f.seek(40)
    f.write(bytes([b[0] ^ 0x55]))
bad = run(["--accel", restore_accel, "--restore", corrupt, "--restore-mem", mem])
err = bad.stderr.decode(errors="replace").strip()
check("a corrupted snapshot: status 2, one line naming the CRC", bad.returncode == 2 and "CRC" in err and not bad.stdout, err)

shutil.rmtree(work, ignore_errors=True)
if fails:
    print(f"FAIL: {len(fails)} check(s): {', '.join(fails)}")
    sys.exit(1)
print("PASS")
