#!/usr/bin/env python3
"""api_pause.py POPEK TICKER_ELF ACCEL [CPUS]: PATCH /vm Paused / Resumed on a running guest.

The ticker guest (tests/guests/ticker.S) prints "tick N tsc=T" every 2e8 TSC ticks (100 ms).
While paused no tick may appear, GET / says "Paused"; after resume the ticks go on, and the TSC
step across the pause stays about one period: the guest's clock stood still (no jump of the
pause's length). Pausing twice and resuming twice are no-ops that answer 204. With CPUS > 1 the
other vCPUs sit halted (the ticker parks them), so the pause must also stop vCPUs in HLT."""
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fc_api_client import request, start_popek  # noqa: E402

TICK_TSC = 200_000_000
PAUSE_S = 2.0

popek, ticker, accel = sys.argv[1:4]
cpus = sys.argv[4] if len(sys.argv) > 4 else "1"
sock = os.path.join(tempfile.mkdtemp(), "api.sock")
proc = start_popek(popek, sock, ["--accel", accel, "--kernel", ticker, "--cpus", cpus])
ticks = []   # (host time, tick number, tsc)
lock = threading.Lock()


def reader():
    for line in proc.stdout:
        parts = line.decode(errors="replace").split()
        if len(parts) == 3 and parts[0] == "tick":
            with lock:
                ticks.append((time.monotonic(), int(parts[1]), int(parts[2].split("=")[1])))


threading.Thread(target=reader, daemon=True).start()
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""))
    if not ok:
        fails.append(name)


def count():
    with lock:
        return len(ticks)


deadline = time.monotonic() + 60
while count() < 5 and time.monotonic() < deadline:
    time.sleep(0.02)
check("the guest ticks before the pause", count() >= 5, f"{count()} ticks")
status, _ = request(sock, "PATCH", "/vm", {"state": "Paused"})
check("PATCH /vm Paused answers 204", status == 204, status)
paused_at = time.monotonic()
status, _ = request(sock, "PATCH", "/vm", {"state": "Paused"})
check("pausing again is a no-op (204)", status == 204, status)
status, info = request(sock, "GET", "/")
check("GET / says Paused", status == 200 and info and info.get("state") == "Paused", info)
time.sleep(1.0)   # output written before the pause drains (the reader may lag on a loaded host)
n_paused = count()
time.sleep(PAUSE_S)
check("no tick while paused", count() == n_paused, f"{n_paused} -> {count()}")
status, _ = request(sock, "PATCH", "/vm", {"state": "Resumed"})
check("PATCH /vm Resumed answers 204", status == 204, status)
resumed_at = time.monotonic()
status, info = request(sock, "GET", "/")
check("GET / says Running", status == 200 and info and info.get("state") == "Running", info)
deadline = time.monotonic() + 30
while count() < n_paused + 3 and time.monotonic() < deadline:
    time.sleep(0.02)
check("ticks go on after resume", count() >= n_paused + 3, f"{n_paused} -> {count()}")
with lock:
    before = ticks[n_paused - 1]
    after = ticks[n_paused]
host_gap = after[0] - before[0]
tsc_step = after[2] - before[2]
check("the host waited out the pause between two ticks", host_gap >= PAUSE_S, f"{host_gap:.2f} s")
# A clock that kept running would step by PAUSE_S * 2e9 (4e9); a stopped one by one period.
check("the guest's TSC did not jump across the pause", tsc_step < 2 * TICK_TSC,
      f"step {tsc_step} = {tsc_step / TICK_TSC:.2f} periods over {host_gap:.2f} s of host time")
status, _ = request(sock, "PATCH", "/vm", {"state": "Resumed"})
check("resuming a running VM is a no-op (204)", status == 204, status)
try:
    rc = proc.wait(timeout=60)
except Exception:
    proc.kill()
    rc = None
check("the guest runs to its end (debug-exit 0: status 1)", rc == 1, rc)
check("the socket is removed at exit", not os.path.exists(sock))
if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("all checks passed")
