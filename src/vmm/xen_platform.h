#pragma once
/// `popek run --xen`: popek plays Xen and dom0 for one PVH guest. Owns the pv::PvDomain (event
/// channels, grant table, XenStore), the hypercall dispatcher and its hooks into the VM (shutdown,
/// block/poll, the per-vCPU singleshot timers raising VIRQ_TIMER), the upcall (HVM callback vector
/// injected into the vCPU's local APIC), and the console back end on popek's stdio.
///
/// `--disk` and `--net` become Xen devices in vmm/io_devices.h: each `--disk FILE[,ro]` a virtual
/// block device (pv::VbdDevice): xvda, xvdb, ... (device/vbd/51712, 51728, ...), with the
/// toolstack's store nodes for both ends; each `--net` a Xen vif (pv::VifDevice, device/vif/0, 1,
/// ...) whose frames go to that host network back end (host::NetBackend: libslirp, tap or dgram).
/// With `--driver-domain` each vbd's requests are carried out by its own `popek backend` process
/// (driver domain 2, ddom::RemoteBlkif).
///
/// `--share DIR[,ro]` becomes the popekfs device (pv::ShareDevice, device/popekfs/0).
///
/// Special pages (toolstack-chosen, inside the E820-reserved BIOS area so the guest never uses
/// them as RAM): XenStore ring at kStorePfn, console ring at kConsolePfn (docs/guest-abi.md).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "hv/hypervisor.h"
#include "pv/backends/share_device.h"
#include "pv/hypercalls.h"
#include "pv/pv_domain.h"
#include "snapshot/snapshot_file.h"
#include "vmm/xen_physmap.h"
#include "bus/bus.h"
#include "vmm/vm_lifecycle.h"
#include "vmm/io_devices.h"
#include "vmm/vm_options.h"
#include "vmm/xen_console_merge.h"

namespace popek::vmm {

inline constexpr uint64_t kStorePfn = 0xfe, kConsolePfn = 0xff;

class XenPlatform {
public:
    using ConsoleOut = std::function<void(std::span<const uint8_t>)>;
    static Result<std::unique_ptr<XenPlatform>> create(hv::Vm& vm, const memory::GuestMemory& mem,
                                                       VmLifecycle& life, int vcpus, ConsoleOut out,
                                                       const std::vector<DiskOption>& disks = {},
                                                       const std::vector<NetOption>& nets = {},
                                                       const std::optional<ShareOption>& share = {},
                                                       bool driver_domain = false,
                                                       std::optional<uint64_t> rr_boot_unix_ns = {});
    ~XenPlatform();
    XenPlatform(const XenPlatform&) = delete;
    XenPlatform& operator=(const XenPlatform&) = delete;

    /// Serves pages the guest maps outside RAM (XenPhysmap) on `mmio`: from the end of low RAM up
    /// to the fixed MMIO devices, and 64 GiB above high RAM. Call before any vCPU runs.
    Result<void> attach_physmap(const memory::GuestMemory& mem, bus::Bus& mmio);

    /// The vCPUs, for translating hypercall pointers; set before any vCPU runs.
    void set_vcpus(std::vector<hv::Vcpu*> vcpus) { m_vcpus = std::move(vcpus); }
    /// Runs one hypercall on the calling vCPU's thread; the result goes to the guest's rax.
    uint64_t handle(int vcpu, const hv::Hypercall& call) { return m_hypercalls->handle(vcpu, call); }
    /// Host terminal input for the guest's PV console; returns how many bytes were taken.
    size_t console_input(std::span<const uint8_t> bytes);
    /// The vbds and vifs (null before create() attached them), for the metrics.
    XenIoDevices* io() { return m_io.get(); }

    // ---- `--record` / `--replay` (xen_platform_rr.cpp, docs/record-replay.md): created with
    // rr_boot_unix_ns, the platform is deterministic: Xen system time is the engine's virtual
    // time from 0, the wall clock at boot is the recording's, and there is no timer thread:
    // timers fire at the engine's poll points (poll_timers, on the vCPU thread) and a vCPU that
    // blocks waits in the session's idle (virtual time jumps to its next deadline).
    bool deterministic() const { return m_deterministic; }
    /// Fires every timer whose deadline has passed (VIRQ_TIMER).
    void poll_timers();
    /// The earliest armed timer deadline in the engine clock's base, UINT64_MAX for none.
    uint64_t next_timer_ns();

    // ---- snapshots (docs/snapshot.md "Xen guests"; xen_platform_snapshot.cpp)
    /// What keeps the Xen state still while a paused VM is saved: no timer fires, no host console
    /// input or network frame reaches the guest's rings (they wait) until it is dropped.
    struct Hold {
        std::vector<std::unique_lock<std::mutex>> locks;
    };
    Hold hold();
    /// The sections of a paused VM's Xen platform; call with hold() held, and write guest RAM
    /// under the same hold. Refuses a --share whose open file was removed or replaced (it could
    /// not be opened again).
    Result<std::vector<snapshot::Section>> save_state(const Hold& held);
    /// Loads them into a platform built from the same options, after guest RAM was loaded and
    /// before any vCPU runs.
    Result<void> load_state(const snapshot::Image& image);

private:
    XenPlatform(hv::Vm& vm, VmLifecycle& life, int vcpus);
    pv::HypercallHooks hooks();
    void upcall(int vcpu);
    void wake_waiters();
    /// Sleeps the calling vCPU until `ready()` holds, `deadline_ns` passes (0: none) or the VM ends.
    template <class Ready>
    void wait_for(Ready ready, uint64_t deadline_ns);
    /// wait_for() of a deterministic platform (xen_platform_rr.cpp).
    void wait_deterministic(const std::function<bool()>& ready, uint64_t deadline_ns);
    void timer_loop();
    uint64_t now_ns() const;
    /// Publishes the Xen clock (vcpu_time_info of every vCPU, shared_info's wall clock) from the
    /// engine's TSC; a no-op on engines that cannot sample it.
    void publish_time();
    bool map_outside_ram(uint64_t gpfn, std::span<uint8_t> page);
    Result<void> attach_share(const ShareOption& share);

    hv::Vm& m_vm;
    VmLifecycle& m_life;
    /// Xen system time 0 in the engine clock's (or the steady clock's) base; a restore sets the
    /// snapshot's, so that system time goes on where it stood.
    std::atomic<uint64_t> m_start_ns{static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count())};
    std::vector<hv::Vcpu*> m_vcpus;
    std::unique_ptr<pv::PvDomain> m_domain;
    std::unique_ptr<pv::Hypercalls> m_hypercalls;

    std::mutex m_merge_lock;   ///< serialises the two consoles' writes into the merge
    std::unique_ptr<XenConsoleMerge> m_console_merge;
    std::vector<std::shared_ptr<XenPhysmap>> m_physmap;
    std::unique_ptr<XenIoDevices> m_io;   ///< --disk and --net: vbds and vifs
    std::unique_ptr<pv::ShareDevice> m_share;
    bool m_deterministic = false;
    uint64_t m_boot_unix_ns = 0;   ///< deterministic: the wall clock at boot
    // Wake-ups for blocked vCPUs and the singleshot timers (one deadline per vCPU, 0 = none).
    std::mutex m_lock;
    std::mutex m_fire_lock;   ///< held by the timer thread while it fires, and by hold()
    std::condition_variable m_cv;
    std::vector<uint64_t> m_timer_deadline;
    bool m_stopping = false;
    std::thread m_timer_thread;
};

}  // namespace popek::vmm
