#!/usr/bin/env bash
# api_curl.sh POPEK DEMO_ELF ACCEL
#
# Firecracker's getting-started guide (docs/getting-started.md, "Starting Firecracker" and the
# API calls that follow), its curl commands and bodies unchanged but for paths, against
# `popek run --api-sock` on ACCEL: logger, boot-source, machine-config, the rootfs drive,
# InstanceStart; the demo guest then runs to its end (status 0), the log file has popek's lines.
# A second instance adds the guide's network interface (a tap): its PUT is 204, and InstanceStart
# either boots or (no /dev/net/tun, no privilege) answers 400 with a fault naming the tap while
# the API stays up. Exit 77 (skip) without curl.
set -uo pipefail
popek=$1 elf=$2 accel=$3
command -v curl >/dev/null || { echo "SKIP: curl not installed (tools/install-deps.sh)"; exit 77; }
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

API_SOCKET=$dir/firecracker.socket
LOGFILE=$dir/firecracker.log
KERNEL=$elf
KERNEL_BOOT_ARGS="console=ttyS0 reboot=k panic=1 pci=off"
ROOTFS=$dir/rootfs.ext4
truncate -s 1M "$ROOTFS"

start_popek() {   # popek with the API socket, waiting for InstanceStart
    rm -f "$API_SOCKET"
    "$popek" run --api-sock "$API_SOCKET" --accel "$accel" </dev/null >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 100); do [ -S "$API_SOCKET" ] && break; sleep 0.05; done
    [ -S "$API_SOCKET" ] || { echo "FAIL: popek did not listen on $API_SOCKET"; cat "$dir/err"; exit 1; }
}
# curl as the guide has it, plus -s and the status code on stdout (the body goes to $dir/body).
api() { curl -s -o "$dir/body" -w '%{http_code}' --unix-socket "${API_SOCKET}" "$@"; }

start_popek
code=$(api -X PUT --data "{\"log_path\": \"${LOGFILE}\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": true}" \
    "http://localhost/logger")
check "PUT /logger (the guide's body): 204" '[ "$code" = 204 ]'
code=$(api -X PUT --data "{\"kernel_image_path\": \"${KERNEL}\", \"boot_args\": \"${KERNEL_BOOT_ARGS}\"}" \
    "http://localhost/boot-source")
check "PUT /boot-source: 204" '[ "$code" = 204 ]'
code=$(api -X PUT --data "{\"vcpu_count\": 2, \"mem_size_mib\": 128}" "http://localhost/machine-config")
check "PUT /machine-config: 204" '[ "$code" = 204 ]'
code=$(api -X PUT --data "{\"drive_id\": \"rootfs\", \"path_on_host\": \"${ROOTFS}\", \"is_root_device\": true, \"is_read_only\": false}" \
    "http://localhost/drives/rootfs")
check "PUT /drives/rootfs: 204" '[ "$code" = 204 ]'
code=$(api "http://localhost/machine-config")
check "GET /machine-config shows it: 200 $(cat "$dir/body")" '[ "$code" = 200 ] && grep -q "\"vcpu_count\":2" "$dir/body"'
code=$(api -X PATCH --data '{"state": "Paused"}' "http://localhost/vm")
check "PATCH /vm before InstanceStart: 400 with a fault_message" '[ "$code" = 400 ] && grep -q fault_message "$dir/body"'
sleep 0.015s
code=$(api -X PUT --data "{\"action_type\": \"InstanceStart\"}" "http://localhost/actions")
check "PUT /actions InstanceStart: 204 $(cat "$dir/body")" '[ "$code" = 204 ]'
wait "$pid"
status=$?
pid=
check "the demo guest ran to its end (status $status)" '[ $status -eq 0 ] && grep -q "hello from a virtual machine" "$dir/out"'
check "machine-config reached the guest" 'grep -q "vcpus: 2" "$dir/out"'
check "the logger file has popek's lines" 'grep -q "logger configured" "$LOGFILE" && grep -q "VM started" "$LOGFILE"'
check "the socket is removed at exit" '[ ! -e "$API_SOCKET" ]'

# The guide's network interface: a tap device.
start_popek
api -X PUT --data "{\"kernel_image_path\": \"${KERNEL}\", \"boot_args\": \"${KERNEL_BOOT_ARGS}\"}" "http://localhost/boot-source" >/dev/null
FC_MAC="06:00:AC:10:00:02"
TAP_DEV="popektap$$"
code=$(api -X PUT --data "{\"iface_id\": \"net1\", \"guest_mac\": \"$FC_MAC\", \"host_dev_name\": \"$TAP_DEV\"}" \
    "http://localhost/network-interfaces/net1")
check "PUT /network-interfaces/net1 (the guide's body): 204" '[ "$code" = 204 ]'
code=$(api -X PUT --data "{\"action_type\": \"InstanceStart\"}" "http://localhost/actions")
if [ "$code" = 204 ]; then
    wait "$pid"
    status=$?
    pid=
    check "with the tap the guest ran to its end (status $status)" '[ $status -eq 0 ]'
else
    check "no tap here: InstanceStart 400 naming it ($(cat "$dir/body"))" '[ "$code" = 400 ] && grep -q "$TAP_DEV\|tap" "$dir/body"'
    code=$(api "http://localhost/")
    check "the API is still up after a failed start: GET / 200" '[ "$code" = 200 ] && grep -q "Not started" "$dir/body"'
fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
