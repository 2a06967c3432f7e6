#pragma once
/// Everything needed to build and run one VM; filled from the CLI (or a test).
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hv/hypervisor.h"

namespace popek::host {
class NetBackend;
}  // namespace popek::host
namespace popek::pv {
class ShareJournal;
}  // namespace popek::pv

namespace popek::vmm {

/// `--disk FILE[,ro]`: a block device (virtio-blk for non-Xen guests; the Xen vbd under --xen).
struct DiskOption {
    std::string path;
    bool read_only = false;
    /// `--replay` only (set by run_vm from the log): the host file is not opened; a blank disk
    /// of this many bytes stands in (the log holds what the guest read, docs/record-replay.md).
    std::optional<uint64_t> replay_bytes = std::nullopt;
};

/// `--share DIR[,ro]` (with --xen): DIR served to the guest as the popekfs device (docs/pv.md).
struct ShareOption {
    std::string path;
    bool read_only = false;
    /// `--record` / `--replay` (set by run_vm): the directory's answers go to / come from the log
    /// (replay/recorded_share.h); a replay (`rr_replay`) does not open DIR at all.
    pv::ShareJournal* rr_journal = nullptr;
    bool rr_replay = false;
};

/// `--net user` (libslirp), `--net tap=NAME` or `--net dgram=LOCAL,REMOTE`: a virtio-net device.
struct NetOption {
    enum class Kind { User, Tap, Dgram } kind = Kind::User;
    std::string tap_name;
    std::string dgram_local, dgram_remote;   ///< unix datagram socket paths (Kind::Dgram)
    /// The guest's MAC (Firecracker's `guest_mac`); none: popek numbers its NICs itself.
    std::optional<std::array<uint8_t, 6>> mac = std::nullopt;
    /// `--record` / `--replay` (set by run_vm): makes the NIC's host side out of the real one
    /// (replay/recorded_net.h); on a replay (`rr_replay`) no real one is opened: it gets null.
    std::function<std::unique_ptr<host::NetBackend>(std::unique_ptr<host::NetBackend>)> rr_wrap = {};
    bool rr_replay = false;
};

struct VmOptions {
    hv::Accel accel = hv::Accel::Kvm;
    uint64_t mem_mib = 256;
    int cpus = 1;
    /// Kernel image: a path, or (when empty) the bytes in `kernel_bytes` (the embedded demo guest).
    std::string kernel_path;
    std::vector<uint8_t> kernel_bytes;
    std::string initrd_path;
    std::string cmdline;
    bool xen = false;
    bool viridian = false;   ///< --viridian (with --xen): the Hyper-V interface too (hv/xen/viridian.h)
    bool driver_domain = false; ///< `--driver-domain`: Xen back ends in a `popek backend` process
    bool stats = false;
    bool perf_map = false;   ///< --perf-map: /tmp/perf-PID.map for translated blocks (bt)
    uint32_t bt_cache_mib = 128;  ///< --bt-cache: translated code per vCPU before a flush (bt)
    bool bt_warm = true;          ///< not --no-bt-warm: halted vCPUs translate the others' blocks (bt)
    bool test_device = false;   ///< popek's test device for in-tree test guests
    std::vector<DiskOption> disks;
    std::vector<NetOption> nets;
    std::optional<ShareOption> share;
    bool virtio_rng = false;    ///< `--rng`: a virtio entropy device
    /// `--device NAME` (repeatable): PCI devices on a q35-like bus 0 (src/devices/pci/); "edu"
    /// (QEMU's educational device) is the only one.
    std::vector<std::string> pci_devices;
    /// `--iommu intel`: a VT-d DMA and interrupt remapping unit at 0xfed90000 with an ACPI DMAR
    /// table (src/devices/iommu/), as QEMU's `-device intel-iommu,intremap=on,eim=off`.
    bool iommu = false;
    std::string gdb;            ///< `--gdb tcp:PORT|unix:PATH`: the gdb stub (docs/debugging.md)
    bool gdb_wait = false;      ///< `--gdb-wait`: stopped before the first instruction
    /// `--record FILE` / `--replay FILE` (docs/record-replay.md): the run is logged, or re-runs a log.
    std::string record_path;
    std::string replay_path;
    /// `--replay` with `--gdb`: reverse execution's snapshots (replay/history.h): one every this
    /// many instructions, at most this many kept (thinned out, the interval doubling, beyond).
    uint64_t rr_snapshot_interval = 1'000'000;
    uint32_t rr_snapshots = 64;
    /// Firecracker's `logger` and `metrics` (config file or API): files popek appends its
    /// lifecycle lines and FlushMetrics records to (src/api/, docs/api.md). Empty: none.
    std::string log_path;
    std::string metrics_path;
    /// `popek run --restore SNAP --restore-mem MEM` / PUT /snapshot/load (docs/snapshot.md): the VM
    /// is rebuilt from the snapshot instead of booted from a kernel.
    std::string restore_path;
    std::string restore_mem_path;
    /// Where serial output goes. Default: popek's stdout.
    std::function<void(std::span<const uint8_t>)> serial_out;
    /// Bytes fed to the serial port's receiver before the guest starts (tests); when
    /// `serial_in_fd` >= 0, popek also reads that fd (the terminal) for more input.
    std::string serial_input;
    int serial_in_fd = -1;
};

}  // namespace popek::vmm
