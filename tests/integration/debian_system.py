#!/usr/bin/env python3
"""debian_system.py: boot the Debian 12 image of tools/make-debian-rootfs.sh and drive its console.

  debian_system.py --vmm popek|qemu --bin PATH --dir DIR [--xen] [--cpus N] [--accel bt]
                   [--timeout S] [--keep-image]

DIR holds debian12.img, vmlinuz, vmlinux, initrd.img (the script's output). The image is copied
(sparse) to a scratch file, so the cached one is never written. One boot, all checks in it:
  - systemd's getty prints `login:`; root logs in without a password (serial ttyS0, or hvc0
    under --xen);
  - systemd-fsck-root's fsck of the root (mounted ro by the initrd) says clean;
  - `findmnt /` shows the root on vda (xvda with --xen), and a file written there is read back;
  - `ip -4 addr` shows a 10.0.2.x DHCP lease from slirp on the virtio-net (eth0/netfront) link;
  - `ping -c1 10.0.2.2` (the slirp gateway) answers;
  - `nproc` equals --cpus;
  - `systemctl is-system-running --wait` says running or degraded (failed units are printed);
  - `poweroff` ends the VMM with status 0;
then, on the host: `e2fsck -fn` finds the file system clean and its state is "clean" (what the next
boot's fsck sees), and the file the guest wrote holds the guest's token (debugfs).
Prints `TIME login_wall=... login_cpu=... running_wall=... total_wall=... total_cpu=... maxrss_kb=...`.
Only the Python standard library is used: a small expect over the VMM's stdio.
"""
import argparse
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Console:
    def __init__(self, proc, log):
        self.proc, self.log, self.buf = proc, log, b""
        os.set_blocking(proc.stdout.fileno(), False)

    def _read(self, until):
        r, _, _ = select.select([self.proc.stdout], [], [], max(0.0, min(1.0, until - time.monotonic())))
        if not r:
            return True
        data = self.proc.stdout.read()
        if not data:
            return False
        self.log.write(data)
        self.log.flush()
        self.buf += data
        return True

    def expect(self, pattern, timeout):
        """Waits for the regex (bytes) in the output since the last match; returns the match."""
        rx = re.compile(pattern, re.S)
        until = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if time.monotonic() >= until:
                raise TimeoutError(f"no {pattern!r} within {timeout:.0f} s")
            if not self._read(until) and self.proc.poll() is not None:
                raise EOFError(f"VMM exited (status {self.proc.returncode}) before {pattern!r}")

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, cmd, timeout=120):
        """Runs a shell command; returns (status, output)."""
        self.send(cmd + "; printf '@@%s-%s@@\\n' DONE $?\n")
        m = self.expect(rb"(.*?)@@DONE-(\d+)@@", timeout)
        out = m.group(1).decode(errors="replace").replace("\r", "")
        # with echo still on (the first command), the command line comes first: drop it
        tail = out.split("DONE $?\n", 1)
        return int(m.group(2)), (tail[1] if len(tail) == 2 else out)


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def bench(con, disk_dev, times):
    """In-guest figures (issue 18 "Benchmarks"), in the same boot as the checks."""
    # Three reads of the same 256 MiB, the median reported (the first also pays for the host's
    # page cache and the guest's first run of that code path: both VMMs alike), each kept.
    rates = []
    for _ in range(3):
        st, out = con.run(f"dd if=/dev/{disk_dev} of=/dev/null bs=1M count=256 iflag=direct 2>&1 | tail -n 1", timeout=600)
        m = re.search(r"copied, ([\d.]+) s", out)
        if st == 0 and m:
            rates.append(256 * 1048576 / 1e6 / float(m.group(1)))
    if rates:
        times["dd_MBps"] = sorted(rates)[len(rates) // 2]
        times["dd_runs_MBps"] = "/".join(f"{r:.0f}" for r in rates)
    # 32 MiB of the image's own binaries: the same bytes on every VMM
    con.run("cat /usr/bin/* /usr/lib/x86_64-linux-gnu/*.so* 2>/dev/null | head -c 33554432 > /tmp/bench.in", timeout=600)
    for name, cmd in (("gzip9_s", "gzip -9 -c /tmp/bench.in > /dev/null"), ("sha256_s", "sha256sum /tmp/bench.in > /dev/null")):
        st, out = con.run(f"TIMEFORMAT=%R; time {cmd}", timeout=900)
        m = re.search(r"([\d.]+)\s*$", out.strip())
        if st == 0 and m:
            times[name] = float(m.group(1))


def vmm_command(a, img):
    disk_dev = "xvda" if a.xen else "vda"
    console = "hvc0" if a.xen else "ttyS0"
    cmdline = f"console={console} root=/dev/{disk_dev} ro"
    if a.vmm == "popek":
        kernel = os.path.join(a.dir, "vmlinux" if a.xen else "vmlinuz")
        cmd = [a.bin, "run", "--accel", a.accel, "--mem", str(a.mem), "--cpus", str(a.cpus),
               "--kernel", kernel, "--initrd", os.path.join(a.dir, "initrd.img"),
               "--disk", img, "--net", "user", "--cmdline", cmdline]
        if a.xen:
            cmd.insert(2, "--xen")
        return cmd
    khz = 0
    try:
        with open("/proc/cpuinfo") as f:
            khz = int(float(re.search(r"cpu MHz\s*:\s*([\d.]+)", f.read()).group(1)) * 1000)
    except (OSError, AttributeError):
        pass
    return [a.bin, "-M", "microvm", "-accel", "tcg", "-m", str(a.mem), "-smp", str(a.cpus),
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-kernel", os.path.join(a.dir, "vmlinuz"), "-initrd", os.path.join(a.dir, "initrd.img"),
            "-append", cmdline + (f" tsc_early_khz={khz}" if khz else ""),
            "-drive", f"id=d0,file={img},format=raw,if=none", "-device", "virtio-blk-device,drive=d0",
            "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vmm", choices=["popek", "qemu"], default="popek")
    p.add_argument("--bin", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--xen", action="store_true")
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--mem", type=int, default=1024)
    p.add_argument("--accel", default="bt")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("POPEK_DEBIAN_TIMEOUT", 900)))
    p.add_argument("--bench", action="store_true",
                   help="also time, in the guest: dd of 256 MiB from the disk (O_DIRECT, median of 3), gzip -9 and sha256sum of 32 MiB")
    p.add_argument("--keep-image", action="store_true", help="keep the scratch image and console log")
    a = p.parse_args()
    if a.xen and a.vmm == "qemu":
        print("debian_system: --xen is popek only", file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="popek-debian-")
    img = os.path.join(work, "root.img")
    subprocess.run(["cp", "--sparse=always", os.path.join(a.dir, "debian12.img"), img], check=True)
    logpath = os.path.join(work, "console.log")
    log = open(logpath, "wb")
    cmd = vmm_command(a, img)
    print("RUN", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    con = Console(proc, log)
    deadline = t0 + a.timeout
    left = lambda: max(1.0, deadline - time.monotonic())
    times = {}
    failures = []
    disk_dev = "xvda" if a.xen else "vda"
    token = os.urandom(8).hex()

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            failures.append(what)

    try:
        con.expect(rb"login: ", left())
        times["login_wall"] = time.monotonic() - t0
        times["login_cpu"] = cpu_seconds(proc.pid)
        con.send("root\n")
        m = con.expect(rb"(Password: |root@[\w-]+:~# )", 120)
        if m.group(1).startswith(b"Password"):
            con.send("\n")
            con.expect(rb"root@[\w-]+:~# ", 120)
        con.run("stty -echo; PS1=; export TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0")
        st, out = con.run("findmnt -no SOURCE,FSTYPE,OPTIONS /")
        src = out.split()
        check(st == 0 and src[:2] == [f"/dev/{disk_dev}", "ext4"] and src[2:3] and src[2].startswith("rw,"),
              f"root is /dev/{disk_dev} ext4 rw: {' '.join(src)}")
        st, out = con.run(f"echo popek-{token} > /root/popek-token && sync && cat /root/popek-token")
        check(st == 0 and f"popek-{token}" in out, "write to the root file system and read it back")
        st, out = con.run("journalctl -b -o cat -u systemd-fsck-root --no-pager | grep -m1 clean")
        check(st == 0 and "clean" in out, f"this boot's fsck of the root: {out.strip()}")
        st, out = con.run("nproc")
        check(st == 0 and str(a.cpus) in out.split(), f"nproc = {out.strip()} (--cpus {a.cpus})")
        st, out = con.run("systemctl is-system-running --wait", timeout=left())
        state = out.strip().splitlines()[-1] if out.strip() else ""
        times["running_wall"] = time.monotonic() - t0
        check(state in ("running", "degraded"), f"systemctl is-system-running: {state}")
        if state != "running":
            _, failed = con.run("systemctl --failed --no-legend --plain")
            print("failed units:\n" + failed, flush=True)
        lease = ""
        for _ in range(60):   # networkd may still be asking for its lease
            st, out = con.run("ip -4 -o addr show scope global")
            lease = re.search(r"^\d+: (\S+)\s+inet (10\.0\.2\.\d+)/", out, re.M)
            if lease:
                break
            con.run("sleep 1")
        check(bool(lease), "DHCP lease from slirp: " + (f"{lease.group(1)} {lease.group(2)}" if lease else "none"))
        if lease:
            st, out = con.run("ping -c 1 -W 5 10.0.2.2")
            check(st == 0, "ping 10.0.2.2 (the gateway)")
        if a.bench:
            bench(con, disk_dev, times)
        con.send("poweroff\n")
        status = proc.wait(timeout=min(300, left()))
        times["total_wall"] = time.monotonic() - t0
        check(status == 0, f"poweroff: VMM exit status {status}")
    except (TimeoutError, EOFError) as e:
        check(False, str(e))
        proc.kill()
        proc.wait()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    times["total_cpu"] = ru.ru_utime + ru.ru_stime
    times["maxrss_kb"] = ru.ru_maxrss
    log.close()

    if not failures:
        fsck = subprocess.run(["e2fsck", "-fn", img], capture_output=True, text=True)
        check(fsck.returncode == 0, f"e2fsck -fn: status {fsck.returncode} {fsck.stdout.strip().splitlines()[-1:]}")
        dump = subprocess.run(["dumpe2fs", "-h", img], capture_output=True, text=True).stdout
        m = re.search(r"Filesystem state:\s+(\S+)", dump)
        check(bool(m) and m.group(1) == "clean", f"file system state: {m.group(1) if m else '?'} (the next boot's fsck)")
        cat = subprocess.run(["debugfs", "-R", "cat /root/popek-token", img], capture_output=True, text=True)
        check(cat.stdout.strip() == f"popek-{token}", "the guest's file reached the image")
    print("TIME " + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in times.items()))
    if failures:
        print("---- console (last 60 lines)")
        with open(logpath, "rb") as f:
            print(b"\n".join(f.read().replace(b"\r", b"").splitlines()[-60:]).decode(errors="replace"))
        print(f"FAIL: {len(failures)} check(s); console log kept in {logpath}")
        return 1
    if not a.keep_image:
        shutil.rmtree(work)
    print(f"PASS: Debian 12 on {a.vmm} {'--xen ' if a.xen else ''}{a.accel if a.vmm == 'popek' else 'tcg'} "
          f"--cpus {a.cpus}: login in {times['login_wall']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
