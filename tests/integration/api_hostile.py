#!/usr/bin/env python3
"""api_hostile.py POPEK TICKER_ELF ACCEL: a Python AF_UNIX client misusing popek's API socket.

The ticker guest is started and paused (so it lives as long as the test needs), then: an
oversized body, oversized headers, a chunked body past the bound, malformed JSON, unknown
fields, wrong types, a garbage request line, a client that stalls mid-request, more idle
connections than popek serves at once, and 10 concurrent clients. Each gets a clear 4xx (or
503 for the connection over the limit) with a fault_message; afterwards the API still answers
and the resumed guest ticks on to its normal end (status 1)."""
import concurrent.futures
import json
import os
import select
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fc_api_client import raw_exchange, request, start_popek  # noqa: E402

popek, ticker, accel = sys.argv[1:4]
sock = os.path.join(tempfile.mkdtemp(), "api.sock")
proc = start_popek(popek, sock, ["--accel", accel, "--kernel", ticker])
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""))
    if not ok:
        fails.append(name)


def status_of(raw):
    """HTTP status and fault_message of a raw response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    try:
        fault = json.loads(body).get("fault_message", "")
    except ValueError:
        fault = ""
    return status, fault


status, _ = request(sock, "PATCH", "/vm", {"state": "Paused"})
check("the guest is paused for the test", status == 204, status)

big = b"{" + b" " * 200_000 + b"}"
s, fault = status_of(raw_exchange(sock, b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                                  % len(big) + big))
check("oversized body: 413 with a fault_message", s == 413 and fault, (s, fault))
s, fault = status_of(raw_exchange(sock, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 100_000 +
                                  b"\r\n\r\n"))
check("oversized headers: 4xx", s is not None and 400 <= s < 500, (s, fault))
chunk = b"%x\r\n" % 40_000 + b" " * 40_000 + b"\r\n"
s, fault = status_of(raw_exchange(sock, b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  + chunk * 3 + b"0\r\n\r\n"))
check("chunked body past the bound: 413", s == 413, (s, fault))
s, fault = status_of(raw_exchange(sock, b"HELLO WORLD\r\n\r\n"))
check("garbage request line: 400", s == 400, (s, fault))
for name, method, path, body, want in [
        ("malformed JSON", "PUT", "/machine-config", '{"vcpu_count": 2,', "deserializing"),
        ("unknown field", "PUT", "/boot-source", '{"kernel_image_path": "k", "kernel": "k"}', "unknown field `kernel`"),
        ("wrong type", "PUT", "/machine-config", '{"vcpu_count": true, "mem_size_mib": 64}', "whole number"),
        ("pre-boot call after boot", "PUT", "/boot-source", '{"kernel_image_path": "k"}', "after starting"),
        ("unknown path", "GET", "/balloon", None, "Invalid request method and/or path"),
        ("bad vm state", "PATCH", "/vm", '{"state": "Frozen"}', "unknown variant")]:
    status, reply = request(sock, method, path, raw_body=body)
    fault = (reply or {}).get("fault_message", "")
    check(f"{name}: 400 naming it", status == 400 and want in fault, (status, fault))

# A client that sends half a request and stalls does not hold the others up.
staller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
staller.connect(sock)
staller.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu")
t0 = time.monotonic()
status, info = request(sock, "GET", "/")
check("a stalled client does not block another", status == 200 and time.monotonic() - t0 < 2,
      f"{time.monotonic() - t0:.2f} s")

# More idle connections than popek serves at once: the extra ones get 503, nobody hangs.
idle = []
for _ in range(20):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    idle.append(c)
# Collect the 503s for up to 5 s (the accept loop may lag on a loaded host); served ones stay silent.
over = 0
waiting = list(idle)
deadline = time.monotonic() + 5
while waiting and time.monotonic() < deadline and over < 4:
    ready, _, _ = select.select(waiting, [], [], 0.2)
    for c in ready:
        waiting.remove(c)
        if c.recv(4096).startswith(b"HTTP/1.1 503"):
            over += 1
check("connections over the limit get 503", over >= 20 + 1 - 16 - 1, f"{over} of 20 (plus the staller)")
for c in idle:
    c.close()
staller.close()
time.sleep(0.3)


def client(i):
    if i % 2:
        return request(sock, "GET", "/machine-config")[0] == 200
    st, reply = request(sock, "PUT", "/drives/d%d" % i, raw_body='{"drive_id": 1}')
    return st == 400 and "fault_message" in (reply or {})


with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
    results = list(pool.map(client, range(10)))
check("10 concurrent clients each get their answer", all(results), results)

status, info = request(sock, "GET", "/")
check("the API still answers: GET / 200 Paused", status == 200 and info["state"] == "Paused", info)
check("popek is still running", proc.poll() is None, proc.poll())
status, _ = request(sock, "PATCH", "/vm", {"state": "Resumed"})
check("resume: 204", status == 204, status)
try:
    out, err = proc.communicate(timeout=60)
except Exception:
    proc.kill()
    out, err = proc.communicate()
ticks = [ln for ln in out.decode(errors="replace").splitlines() if ln.startswith("tick ")]
check("the guest ticked on to its end (status 1, 30 ticks)", proc.returncode == 1 and len(ticks) == 30,
      (proc.returncode, len(ticks), err.decode(errors="replace")[-300:]))
if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("all checks passed")
