#!/usr/bin/env bash
# api_metrics.sh POPEK TICKER_ELF ACCEL
#
# Firecracker-style metrics (docs/metrics.md) over the API socket, as Firecracker's guide does it:
# PUT /metrics with a metrics_path, the VM described and started through the API (the ticker
# guest, which prints a line every 100 ms, with a virtio disk), then two
# `PUT /actions {"action_type": "FlushMetrics"}` a second apart. Passes when the file holds two
# lines, each valid JSON, whose vCPU exit counters are non-zero and grew between them (as did the
# instruction count), with the virtio block device listed; under bt the code-cache figures too.
# Exit 77 (skip) without curl or python3.
set -uo pipefail
popek=$1 elf=$2 accel=$3
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
sock=$dir/api.sock metrics=$dir/metrics.json
truncate -s 1M "$dir/disk.img"
"$popek" run --api-sock "$sock" --accel "$accel" </dev/null >"$dir/out" 2>"$dir/err" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
api() { curl -s -o "$dir/body" -w '%{http_code}' --unix-socket "$sock" "$@"; }
check "PUT /metrics: 204" '[ "$(api -X PUT --data "{\"metrics_path\": \"$metrics\"}" http://localhost/metrics)" = 204 ]'
check "PUT /boot-source: 204" '[ "$(api -X PUT --data "{\"kernel_image_path\": \"$elf\"}" http://localhost/boot-source)" = 204 ]'
check "PUT /drives/rootfs: 204" '[ "$(api -X PUT --data "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$dir/disk.img\", \"is_root_device\": true, \"is_read_only\": false}" http://localhost/drives/rootfs)" = 204 ]'
check "InstanceStart: 204" '[ "$(api -X PUT --data "{\"action_type\": \"InstanceStart\"}" http://localhost/actions)" = 204 ]'
sleep 1
check "FlushMetrics: 204" '[ "$(api -X PUT --data "{\"action_type\": \"FlushMetrics\"}" http://localhost/actions)" = 204 ]'
sleep 1
check "FlushMetrics again: 204" '[ "$(api -X PUT --data "{\"action_type\": \"FlushMetrics\"}" http://localhost/actions)" = 204 ]'
kill "$pid"; wait "$pid" 2>/dev/null; pid=
check "two JSON lines whose counters grew" 'python3 - "$metrics" "$accel" <<"PY"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, f"{len(lines)} lines"
a, b = (json.loads(l) for l in lines)
for r in (a, b):
    v = r["vcpu"][0]
    assert v["exit_io_out"] > 0, v           # the ticker prints on the UART
    assert v["instructions"] > 0, v
    assert r["devices"]["pio_exits"] > 0, r["devices"]
    assert len(r["block"]) == 1 and "read_bytes" in r["block"][0], r["block"]
assert b["utc_timestamp_ms"] > a["utc_timestamp_ms"]
assert b["vcpu"][0]["exit_io_out"] > a["vcpu"][0]["exit_io_out"], (a["vcpu"], b["vcpu"])
assert b["vcpu"][0]["instructions"] > a["vcpu"][0]["instructions"]
assert b["devices"]["pio_exits"] > a["devices"]["pio_exits"]
assert b["api_server"]["flushes"] == a["api_server"]["flushes"] + 1
if sys.argv[2] == "bt":
    bt = b["bt"][0]
    assert bt["blocks"] > 0 and bt["code_bytes"] > 0 and bt["capacity_bytes"] > 0, bt
    assert 0 < bt["hit_rate"] <= 1 and bt["hits"] >= a["bt"][0]["hits"], bt
print("   ", lines[1][:300])
PY'
if [ "$fails" -ne 0 ]; then echo "---- metrics"; cat "$metrics"; echo "---- stderr"; tail -n 20 "$dir/err"; exit 1; fi
echo "PASS: metrics lines on FlushMetrics ($accel)"
