#!/usr/bin/env bash
# Runs every benchmark, each figure next to its baseline measured in the same run.
#   bench/run.sh [RUNS]     (build first: cmake --build --preset release)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
B=build/bench
GUEST_DIR=${GUEST_DIR:-/tmp/vmm-guest}
[ -s "$GUEST_DIR/tiny-pvh.elf" ] || ../shared/baseline/fetch-guest.sh "$GUEST_DIR" >&2
echo "== P3: one PIO exit through popek's vCPU loop vs a raw KVM_RUN loop"
"$B/bench_pio_roundtrip" 20000
echo "== P1/P2: boot to the first serial byte, and the VMM's own memory, vs QEMU microvm"
"$B/boot_bench" --runs "$RUNS" --guest-dir "$GUEST_DIR"
echo "== Issue 12: the Debian kernel (vmlinux; bzImage on bt) to /init, popek --accel interp and bt vs QEMU microvm TCG (same kernel, initrd, command line)"
"$B/boot_bench" --runs 3 --guest-dir "$GUEST_DIR" --cases linux-interp,linux-bt,linux-bt-bz
echo "== Issue 4: guest instructions per second, interp vs QEMU TCG vs KVM (PVM here)"
"$B/insn_rate" --runs 3 --guest-dir "$GUEST_DIR"
echo "== Issue 12: the memory-heavy guest (bench_mem) part by part, popek bt vs QEMU TCG, CPU time, same ELF (MEM_BENCH_FLAGS=--interp adds interp)"
"$B/mem_bench" --runs 3 ${MEM_BENCH_FLAGS:-}
echo "== Issue 12: the Debian kernel: virtio-blk dd, CPU-bound busybox, --cpus 1 vs 2 boot; popek bt vs QEMU microvm TCG"
"$B/linux_bench" --runs 3 --guest-dir "$GUEST_DIR" --out "${TMPDIR:-/tmp}/popek-linux-bench"
echo "== Issue 12: the same Linux cases with 2 vCPUs on both sides"
"$B/linux_bench" --runs 3 --guest-dir "$GUEST_DIR" --out "${TMPDIR:-/tmp}/popek-linux-bench" --cpus 2 --cases blk,cpu
echo "== Issue 7: popek-os boot to the prompt and system call round trip (PC and Xen PV devices)"
"$B/guest_os_bench" --runs 5
echo "== Issue 7: secure-net channel throughput vs raw libsodium AEAD (same run)"
"$B/netsec_throughput" 200000 1400
echo "== Issue 7: encrypted channel throughput popek-os -> host vs raw AEAD and host -> host (same run)"
"$B/guest_net_bench" --runs 3 --bytes 2097152
echo "== Issue 16: popek-os sealed disk vs raw blkif in the guest, host AEAD and host sealdisk (same run)"
"$B/guest_disk_bench" --runs 3 --kib 4096
echo "== Issue 6: blkif throughput, back end in popek vs driver domain vs host dd"
"$B/blkif_bench" --runs 3 --size-mib 64
echo "== Issue 6: event channel round trip between two vCPUs vs two host threads (eventfd / spin)"
"$B/evtchn_bench" --runs 3
echo "== Issue 14: VM density: 16 tiny guests started at once on bt, VMs/s per core and own memory per VM, vs raw processes"
"$B/density_bench" --vms 16 --rounds 3
