#!/usr/bin/env python3
"""gdb_hostile.py POPEK ACCEL: a misbehaving gdb client cannot crash popek.

Starts `popek run --gdb unix:SOCK --gdb-wait` with the demo guest, then sends garbage bytes, a
bad checksum, a non-hex checksum, an oversized packet, a huge memory read, an unmapped read,
malformed Z/m/M/p/P/G/vCont/H/qXfer packets and reverse-execution packets (bs, bc: not a replay), and disconnects while the guest is stopped. popek
must answer '-' or an error to each, keep serving, and when the client is gone run the guest to
its end (exit status 0).
"""
import os, socket, subprocess, sys, tempfile, time

popek, accel = sys.argv[1], sys.argv[2]
d = tempfile.mkdtemp()
sock = os.path.join(d, "gdb.sock")
p = subprocess.Popen([popek, "run", "--accel", accel, "--gdb", "unix:" + sock, "--gdb-wait"],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def fail(msg):
    p.kill()
    out = p.stdout.read().decode(errors="replace")
    print("FAIL:", msg, "\n---- popek\n" + out)
    sys.exit(1)


for _ in range(100):
    if os.path.exists(sock):
        break
    time.sleep(0.1)
else:
    fail("popek did not listen")


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#" + ("%02x" % (sum(payload) & 0xff)).encode()


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    return s


def reply(s) -> bytes:
    """The next packet's payload (skipping acks)."""
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            fail("connection closed by popek")
        buf += chunk
        start = buf.find(b"$")
        end = buf.find(b"#", start + 1) if start >= 0 else -1
        if start >= 0 and end >= 0 and len(buf) >= end + 3:
            return buf[start + 1:end]


def ask(s, payload: bytes) -> bytes:
    s.sendall(frame(payload))
    return reply(s)


s = connect()
s.sendall(b"garbage\x00\xff}}}###")
s.sendall(b"$g#00")                    # bad checksum: '-'
s.sendall(b"$g#zz")                    # not a checksum
s.sendall(b"$" + b"A" * 100000 + b"#00")   # oversized
got = s.recv(4096)
if b"-" not in got:
    fail("no '-' for a bad packet: %r" % got)
checks = {
    b"mffffffffffff0000,ffffffffffffffff": lambda r: r.startswith(b"E") or len(r) <= 0x4000,
    b"m0,": lambda r: r.startswith(b"E"),
    b"m8000000000000000,10": lambda r: r == b"E14",
    b"M0,4:zz": lambda r: r.startswith(b"E"),
    b"M0,100:00": lambda r: r.startswith(b"E"),
    b"p99999999": lambda r: r.startswith(b"E"),
    b"P0=12": lambda r: r.startswith(b"E"),
    b"G00": lambda r: r.startswith(b"E"),
    b"Z0": lambda r: r.startswith(b"E"),
    b"Z2,0,ffffffffffffffff": lambda r: r.startswith(b"E"),
    b"Hgzz": lambda r: r.startswith(b"E"),
    b"vCont;s:99": lambda r: r.startswith(b"E"),
    b"qXfer:features:read:target.xml:ffffffffffffffff,ffffffffffffffff": lambda r: r == b"l",
    b"qRcmd,7374617473": lambda r: len(r) > 0,
    b"g": lambda r: len(r) > 100,
    # Reverse execution needs a replay (gdb_reverse.sh): not offered here, and refused.
    b"qSupported:multiprocess+;xmlRegisters=i386": lambda r: b"Reverse" not in r,
    b"bs": lambda r: r.startswith(b"E"),
    b"bc": lambda r: r.startswith(b"E"),
    b"bx": lambda r: r == b"",
    b"b": lambda r: r == b"",
}
for pkt, ok in checks.items():
    r = ask(s, pkt)
    if not ok(r):
        fail("bad reply to %r: %r" % (pkt[:40], r[:80]))
if not ask(s, b"?").startswith(b"T05"):
    fail("no stop reply after the garbage")
s.close()                               # disconnect while stopped: the guest continues

try:
    out, _ = p.communicate(timeout=120)
except subprocess.TimeoutExpired:
    fail("popek did not finish after the clients left")
text = out.decode(errors="replace")
if p.returncode != 0 or "hello from a virtual machine" not in text:
    print(text)
    print("FAIL: popek status", p.returncode)
    sys.exit(1)
print("PASS: popek survived the misbehaving clients and ran the guest to its end")
