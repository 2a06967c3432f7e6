#!/usr/bin/env python3
"""snapshot_popek_os_share.py POPEK POPEK_OS_ELF SNAP_ACCEL RESTORE_ACCEL: popek-os using /share across a snapshot.

popek-os (guest/, docs/guest-os.md) boots as a Xen guest with `--share DIR` (its /share is the
popekfs device). Through its shell it reads a host file and writes one in /share, then the VM is
paused, snapshotted (PUT /snapshot/create) and the process killed. DIR is copied elsewhere as it
was at the snapshot, and a fresh popek restores the VM under RESTORE_ACCEL with `--share COPY`: the
same shell answers, reads what it wrote before the snapshot and the host's files through the
restored popekfs ring, and what it writes now lands in COPY (not in DIR). A restore whose --share
names a file where a directory is expected (no directory at all) is refused: status 2, one line."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fc_api_client import request  # noqa: E402

popek, os_elf, snap_accel, restore_accel = sys.argv[1:5]
work = tempfile.mkdtemp(prefix="popek-snap-os-")
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""))
    if not ok:
        fails.append(name)


class Console:
    """popek on pipes; the shell driven line by line (output without "\\r")."""

    def __init__(self, args):
        self.proc = subprocess.Popen([popek, "run"] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = bytearray()
        self.cursor = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        while True:
            b = self.proc.stdout.read1(4096)
            if not b:
                return
            with self.lock:
                self.out += b.replace(b"\r", b"")

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                at = self.out.find(text.encode(), self.cursor)
                if at >= 0:
                    self.cursor = at + len(text)
                    return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.01)
        return False

    def run(self, command, timeout=60):
        start = self.cursor
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()
        if not self.wait_for("\n$ ", timeout):
            return f"<no prompt: {bytes(self.out[start:]).decode(errors='replace')}>"
        text = bytes(self.out[start:self.cursor - 2]).decode(errors="replace")
        echo = text.find(command + "\n")
        return text[echo + len(command) + 1:] if echo >= 0 else text

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


share = os.path.join(work, "share")
os.makedirs(os.path.join(share, "out"))
with open(os.path.join(share, "hello.txt"), "w") as f:
    f.write("hello from the host\n")

sock, snap, mem = os.path.join(work, "api.sock"), os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")

vm = Console(["--accel", snap_accel, "--kernel", os_elf, "--xen", "--share", share, "--api-sock", sock])
check("popek-os boots to its shell", vm.wait_for("$ ", 120), bytes(vm.out[-300:]).decode(errors="replace"))
got = vm.run("cat /share/hello.txt")
check("cat /share/hello.txt before the snapshot", got == "hello from the host\n", repr(got))
got = vm.run("put /share/out/before.txt written before")
check("put /share/out/before.txt", got == "put: 15 bytes\n", repr(got))
status, _ = request(sock, "PATCH", "/vm", {"state": "Paused"})
check("PATCH /vm Paused", status == 204, status)
status, body = request(sock, "PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
check("snapshot/create with --share answers 204", status == 204, body)
vm.kill()

moved = os.path.join(work, "moved")
shutil.copytree(share, moved)
# A file the guest has closed may change on the host meanwhile; the restored guest sees the change
# (and nothing the guest did before the snapshot is carried out again: its ring goes on where it was).
with open(os.path.join(moved, "out", "before.txt"), "a") as f:
    f.write("appended on the host\n")
restored = Console(["--accel", restore_accel, "--restore", snap, "--restore-mem", mem, "--share", moved])
restored.proc.stdin.write(b"\n")
restored.proc.stdin.flush()
check(f"the restored popek-os ({restore_accel}) answers at its shell", restored.wait_for("$ ", 60),
      bytes(restored.out[-300:]).decode(errors="replace"))
got = restored.run("cat /share/out/before.txt")
check("what it wrote before the snapshot reads back, with the host's change (no request ran twice)",
      got == "written before\nappended on the host\n", repr(got))
got = restored.run("cat /share/hello.txt")
check("the host's file reads through the restored ring", got == "hello from the host\n", repr(got))
got = restored.run("put /share/out/after.txt written after")
check("put /share/out/after.txt after the restore", got == "put: 14 bytes\n", repr(got))
got = restored.run("ls /share/out/")
check("ls /share/out/ lists both", "/share/out/after.txt" in got and "/share/out/before.txt" in got, repr(got))
restored.kill()
check("the write after the restore is in the restoring run's --share",
      os.path.exists(os.path.join(moved, "out", "after.txt")) and not os.path.exists(os.path.join(share, "out", "after.txt")))

not_dir = os.path.join(work, "not-a-dir")
open(not_dir, "w").close()
bad = subprocess.run([popek, "run", "--accel", restore_accel, "--restore", snap, "--restore-mem", mem, "--share", not_dir],
                     stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
err = bad.stderr.decode(errors="replace").strip()
check("--share naming no directory: status 2, one line, no output",
      bad.returncode == 2 and len(err.splitlines()) == 1 and "not-a-dir" in err and not bad.stdout, err)

shutil.rmtree(work, ignore_errors=True)
if fails:
    print(f"FAIL: {len(fails)} check(s): {', '.join(fails)}")
    sys.exit(1)
print("PASS")
