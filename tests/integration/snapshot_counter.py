#!/usr/bin/env python3
"""snapshot_counter.py POPEK COUNTER_ELF SNAP_ACCEL RESTORE_ACCEL [--xen]: bit-exact snapshot and restore.

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
Xen platform crosses the snapshot too. It ends with a poweroff (status 0), not debug-exit."""
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
xen = "--xen" in sys.argv[5:]
work = tempfile.mkdtemp(prefix="popek-snap-")
done_status = 0 if xen else 1   # poweroff, or debug-exit 0


def guest_args(disk_name):
    """The VM's own options: a Xen guest gets a fresh 1 MiB disk of its own."""
    if not xen:
        return []
    disk = os.path.join(work, disk_name)
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    return ["--xen", "--disk", disk]
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

# ---- restore: command line ----
restored = run(["--accel", restore_accel, "--restore", snap, "--restore-mem", mem])
check(f"--restore under {restore_accel} ends like the uninterrupted run (status {done_status})",
      restored.returncode == done_status,
      restored.stderr.decode(errors="replace").strip())
check(f"{snap_accel} snapshot + {restore_accel} restore prints exactly the uninterrupted output",
      prefix + restored.stdout == reference.stdout, f"{len(prefix)}+{len(restored.stdout)} vs {len(reference.stdout)} bytes")

# ---- restore: API ----
sock2 = os.path.join(work, "api2.sock")
proc2 = start_popek(popek, sock2, ["--accel", restore_accel])
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
