#!/usr/bin/env bash
# metrics_config.sh POPEK GUEST_DIR
#
# Metrics without the API socket (docs/metrics.md): a VM booted from a Firecracker config file
# whose `metrics` section names a metrics_path gets its lines from popek itself (every 60 s and
# one when it stops). Two VMs: the ticker guest on bt (its line has the vCPU's exits), and the Xen
# counter guest (tests/guests/xen/xen_counter.c: 60 rounds of a 4 KiB write and read through its
# vbd) whose line carries the vbd's requests and bytes under "xen_block". Exit 77 without python3.
set -uo pipefail
popek=$1 guests=$2
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

cat >"$dir/ticker.json" <<JSON
{"boot-source": {"kernel_image_path": "$guests/ticker.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "metrics": {"metrics_path": "$dir/ticker.metrics"},
 "popek": {"accel": "bt"}}
JSON
"$popek" run --config-file "$dir/ticker.json" </dev/null >"$dir/ticker.out" 2>"$dir/ticker.err"
status=$?
check "the ticker VM ran to its end (debug-exit 0: status 1)" '[ $status = 1 ]'
check "its metrics line, without --api-sock" 'python3 - "$dir/ticker.metrics" <<"PY"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 1, lines
r = json.loads(lines[-1])
assert r["vcpu"][0]["exit_io_out"] > 0 and r["vcpu"][0]["instructions"] > 0, r["vcpu"]
assert r["vmm"]["state"] == "Stopped", r["vmm"]
assert "api_server" not in r
PY'

truncate -s 1M "$dir/disk.img"
cat >"$dir/xen.json" <<JSON
{"boot-source": {"kernel_image_path": "$guests/xen_counter.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "drives": [{"drive_id": "data", "path_on_host": "$dir/disk.img", "is_root_device": false, "is_read_only": false}],
 "metrics": {"metrics_path": "$dir/xen.metrics"},
 "popek": {"accel": "bt", "xen": true}}
JSON
"$popek" run --config-file "$dir/xen.json" </dev/null >"$dir/xen.out" 2>"$dir/xen.err"
status=$?
check "the Xen counter guest powered off (status 0)" '[ $status = 0 ]'
check "its line counts the vbd's requests and bytes" 'python3 - "$dir/xen.metrics" <<"PY"
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
b = r["xen_block"]
assert len(b) == 1 and b[0]["device"] == 51712, b
assert b[0]["requests"] >= 120 and b[0]["write_bytes"] >= 60 * 4096 and b[0]["read_bytes"] >= 60 * 4096, b
assert b[0]["failures"] == 0, b
assert r["xen_net"] == [], r["xen_net"]
assert r["xen"]["hypercalls"] > 0, r["xen"]
PY'
if [ "$fails" != 0 ]; then
  for f in "$dir"/*.err "$dir"/*.metrics; do echo "---- $f"; tail -c 2000 "$f"; echo; done
  echo "FAIL: $fails check(s)"; exit 1
fi
echo PASS
