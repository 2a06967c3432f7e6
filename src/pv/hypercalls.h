#pragma once
/// pv::Hypercalls: the Xen hypercalls a PVH guest needs (xen.h __HYPERVISOR_*, x86-64 ABI:
/// rax = number, rdi rsi rdx r10 r8 = arguments, rax = result; a 32-bit caller's structures in
/// their compat layouts, pv/xen_compat.h). Argument structs are read from and
/// written to guest memory through the engine's address translation; every failure is a negative
/// errno in rax as Xen returns it (-ENOSYS for what popek does not implement, -EFAULT for bad
/// pointers, -EINVAL / -EPERM for bad requests). Nothing a guest passes can stop popek.
///
/// Scheduling and time belong to the engine, so those calls end in hooks.
#include <cstdint>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>
#include <span>
#include <string>
#include <string_view>

#include "hv/cpu_state.h"
#include "hv/vcpu_exit.h"
#include "pv/balloon.h"
#include "pv/guest_access.h"
#include "pv/pv_domain.h"

namespace popek::pv {

struct HypercallHooks {
    /// SCHEDOP_shutdown with a valid SHUTDOWN_* `reason` (sched.h; not suspend): the domain ends.
    /// What that means for the VM (popek's exit status) is the toolstack's business.
    std::function<void(unsigned reason)> shutdown;
    std::function<void(int vcpu)> yield;
    /// SCHEDOP_block: the vCPU sleeps until an event is pending for it (upcall_pending).
    std::function<void(int vcpu)> block;
    /// SCHEDOP_poll with none of the ports pending: sleep until one is or until `deadline_ns`
    /// (Xen system time; 0 = no timeout).
    std::function<void(int vcpu, std::span<const evtchn_port_t> ports, uint64_t deadline_ns)> poll;
    /// set_timer_op / VCPUOP_set_singleshot_timer: raise VIRQ_TIMER on `vcpu` at `deadline_ns`
    /// (Xen system time); 0 cancels.
    std::function<void(int vcpu, uint64_t deadline_ns)> set_timer;
    /// Xen system time in ns (monotonic since boot).
    std::function<uint64_t()> now_ns;
    /// CONSOLEIO_write bytes.
    std::function<void(std::string_view)> console_write;
    /// XENMEM_add_to_physmap of a grant frame at a gpfn that is no guest RAM: show `page` to the
    /// guest at `gpfn` (false: popek cannot map anything there, the guest gets -EINVAL).
    std::function<bool(uint64_t gpfn, std::span<uint8_t> page)> map_outside_ram;
    /// VCPUOP_up of a vCPU initialised by VCPUOP_initialise: start it at `state` (the engine's
    /// hv::Vcpu::start_from). False: the engine cannot (the guest gets -ENOSYS).
    std::function<bool(int vcpu, const hv::CpuState& state)> start_vcpu;
    /// Optional: whether the engine runs `vcpu` already (started by INIT/SIPI), which makes it
    /// initialised in Xen's sense (VCPUOP_initialise: -EEXIST).
    std::function<bool(int vcpu)> vcpu_running;
    /// Optional: sees every hypercall with its result (popek's POPEK_XEN_TRACE).
    std::function<void(int vcpu, const hv::Hypercall& call, int64_t result)> trace;
};

class Hypercalls {
public:
    /// Largest CONSOLEIO_write taken in one call; Xen also works through big writes in chunks.
    static constexpr uint32_t kMaxConsoleWrite = 64 * 1024;
    /// Largest batch for GNTTABOP_copy and SCHEDOP_poll port lists (Xen: 128 ports for poll).
    static constexpr uint32_t kMaxCopyBatch = 512;
    static constexpr uint32_t kMaxPollPorts = 128;
    /// Most extents one XENMEM_*_reservation / populate_physmap call handles; the guest gets the
    /// count done and asks again for the rest, as after a preempted call on Xen.
    static constexpr uint64_t kMaxReservationBatch = 4096;

    Hypercalls(PvDomain& domain, GuestAccess::Translate translate, HypercallHooks hooks);

    /// Runs one hypercall for `vcpu`; the return value goes to the guest's rax.
    uint64_t handle(int vcpu, const hv::Hypercall& call);

    /// Marks a vCPU up or down for VCPUOP_is_up (vCPU 0 starts up).
    void set_vcpu_up(int vcpu, bool up);
    /// Snapshots (docs/snapshot.md "XEN "): VCPUOP_is_up of each vCPU and the balloon.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    using Ret = int64_t;
    Ret xen_version(int vcpu, uint64_t cmd, uint64_t arg, bool compat);
    Ret console_io(int vcpu, uint64_t cmd, uint64_t count, uint64_t buf);
    Ret sched_op(int vcpu, uint64_t cmd, uint64_t arg, bool compat);
    Ret set_timer_op(int vcpu, uint64_t deadline_ns);
    Ret vcpu_op(int vcpu, uint64_t cmd, uint64_t target, uint64_t arg, bool compat);
    /// VCPUOP_initialise and VCPUOP_up (pv/vcpu_context.h, hypercalls_vcpu.cpp).
    Ret vcpu_initialise(int vcpu, int target, uint64_t arg);
    Ret vcpu_up(int target);
    Ret memory_op(int vcpu, uint64_t cmd, uint64_t arg, bool compat);
    /// XENMEM_increase_reservation, XENMEM_decrease_reservation, XENMEM_populate_physmap:
    /// the number of 4 KiB extents done (pv::Balloon).
    Ret memory_reservation(int vcpu, uint64_t cmd, uint64_t arg, bool compat);
    /// XENMEM_add_to_physmap's argument in either ABI, widened to the native struct.
    PvResult<xen_add_to_physmap_t> read_add_to_physmap(int vcpu, uint64_t arg, bool compat);
    Ret hvm_op(int vcpu, uint64_t op, uint64_t arg);
    Ret event_channel_op(int vcpu, uint64_t cmd, uint64_t arg);
    /// EVTCHNOP_init_control: Xen's argument errors, else -ENOSYS (no FIFO ABI).
    Ret fifo_init_control(int vcpu, uint64_t arg);
    Ret grant_table_op(int vcpu, uint64_t cmd, uint64_t uop, uint64_t count, bool compat);
    Ret setup_table(int vcpu, uint64_t uop, bool compat);
    /// GNTTABOP_get_status_frames (grant table v2), either ABI.
    Ret get_status_frames(int vcpu, uint64_t uop, bool compat);
    PvResult<void> place_grant_frame(uint64_t idx, uint64_t gpfn);

    /// Reads an IN/OUT struct, applies `op` to it and writes it back when `op` succeeds.
    template <class T, class F>
    Ret in_out(int vcpu, uint64_t gva, F&& op) {
        auto value = m_guest.read_obj<T>(vcpu, gva);
        if (!value) return -value.error();
        PvResult<void> r = op(*value);
        if (!r) return -r.error();
        auto w = m_guest.write_obj(vcpu, gva, *value);
        return w ? 0 : -w.error();
    }

    PvDomain& m_domain;
    GuestAccess m_guest;
    HypercallHooks m_hooks;
    std::unique_ptr<std::atomic<bool>[]> m_vcpu_up;
    std::mutex m_vcpu_lock;   ///< orders VCPUOP_initialise / VCPUOP_up between vCPU threads
    std::vector<std::optional<hv::CpuState>> m_vcpu_context;   ///< VCPUOP_initialise's, until VCPUOP_up
    Balloon m_balloon;
};

/// -errno as the 64-bit value a hypercall returns.
inline uint64_t hypercall_error(int err) { return static_cast<uint64_t>(-static_cast<int64_t>(err)); }

}  // namespace popek::pv
