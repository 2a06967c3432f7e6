#!/usr/bin/env bash
# config_file_demo.sh POPEK DEMO_ELF ACCEL
#
# `popek run --config-file` with a Firecracker-format config (nulls for the sections popek lacks,
# as Firecracker's own example has them) boots the in-tree demo guest on ACCEL to its end (status 0);
# the same VM from the command line prints the same; broken configs are one stderr line, status 2.
set -uo pipefail
popek=$1 elf=$2 accel=$3
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

cat >"$dir/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$elf", "boot_args": "", "initrd_path": null},
  "drives": [],
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "smt": false, "track_dirty_pages": false},
  "cpu-config": null, "balloon": null, "network-interfaces": [], "vsock": null,
  "logger": null, "metrics": null, "mmds-config": null, "entropy": null,
  "popek": {"accel": "$accel"}
}
JSON
timeout 120 "$popek" run --config-file "$dir/vm.json" </dev/null >"$dir/out" 2>"$dir/err"
status=$?
check "config boots the demo guest (status $status)" '[ $status -eq 0 ] && grep -q "hello from a virtual machine" "$dir/out"'
check "machine-config vcpu_count reaches the guest" 'grep -q "vcpus: 2" "$dir/out"'
timeout 120 "$popek" run --accel "$accel" --kernel "$elf" --cpus 2 --mem 64 </dev/null >"$dir/cli-out" 2>&1
check "the same VM from the command line prints the same" 'cmp -s "$dir/out" "$dir/cli-out"'

bad() {   # name, file content, expected stderr fragment
    printf '%s' "$2" >"$dir/bad.json"
    "$popek" run --config-file "$dir/bad.json" </dev/null >"$dir/bad-out" 2>"$dir/bad-err"
    local st=$?
    check "$1: status 2, one line naming it (status $st: $(head -c 200 "$dir/bad-err"))" \
        "[ $st -eq 2 ] && [ \$(wc -l <'$dir/bad-err') -eq 1 ] && grep -qF -- '$3' '$dir/bad-err'"
}
bad "malformed JSON" '{"boot-source": {' "malformed JSON"
bad "wrong type" '{"boot-source": {"kernel_image_path": 42}}' "must be a string"
bad "unknown key" '{"boot-source": {"kernel_image_path": "k"}, "vcpus": 2}' "unknown field \`vcpus\`"
bad "missing kernel" '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}' "missing \`boot-source\`"
bad "kernel file absent" '{"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}, "popek": {"accel": "interp"}}' "/nonexistent/vmlinux"
"$popek" run --config-file "$dir/nonexistent.json" </dev/null 2>"$dir/bad-err"
st=$?
check "absent config file: status 2" '[ $st -eq 2 ] && grep -q "nonexistent.json" "$dir/bad-err"'

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
