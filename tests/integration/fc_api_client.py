"""A Firecracker API client over AF_UNIX for popek's API tests: http.client on a unix socket
(what a Python user of the API would write), plus raw-socket helpers for malformed requests."""
import http.client
import json
import os
import socket
import subprocess
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def request(sock_path, method, path, body=None, raw_body=None):
    """One request on a fresh connection: (status, parsed JSON body or None)."""
    conn = UnixHTTPConnection(sock_path)
    data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    return resp.status, (json.loads(text) if text else None)


def raw_exchange(sock_path, payload, timeout=10):
    """Sends bytes as they are, returns what the server answers until it closes (or times out)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def start_popek(popek, sock_path, args, stdout=subprocess.PIPE):
    """popek run --api-sock SOCK ARGS..., once its socket is there."""
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    proc = subprocess.Popen([popek, "run", "--api-sock", sock_path] + args, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE)
    for _ in range(200):
        if os.path.exists(sock_path) or proc.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(sock_path):
        raise SystemExit(f"FAIL: popek did not listen on {sock_path}: {proc.stderr.read().decode()}")
    return proc


def collect_stdout(proc, buf, lock):
    """Appends everything `proc` prints to the bytearray `buf` (under `lock`) until EOF; run it
    in a thread."""
    while True:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            return
        with lock:
            buf.extend(chunk)
