#pragma once
/// pv::EventChannels: Xen's 2-level event channel ABI for one guest domain (xen/event_channel.h,
/// xen.h "shared_info" / "vcpu_info"). A port's pending and mask bits live in shared_info's
/// evtchn_pending / evtchn_mask bitmaps; raising a port also sets its word's bit in the target
/// vCPU's evtchn_pending_sel and that vCPU's evtchn_upcall_pending, and the first time the latter
/// goes 0→1 the upcall callback runs (the VMM injects the HVM callback vector there).
///
/// The bitmaps are guest memory the guest changes concurrently (it clears pending bits and sets
/// masks without hypercalls), so every bit operation is an atomic RMW on guest RAM, as Xen does.
/// Until the guest places shared_info (XENMAPSPACE_shared_info) the state lives in a host copy that
/// is copied into the guest page at placement.
///
/// popek's control domain (dom0: the in-process backends) has no shared_info: its end of an
/// interdomain channel is a callback. Thread-safe.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "memory/guest_memory.h"
#include "pv/pv_result.h"
#include "pv/ram_writes.h"
#include "snapshot/snap_codec.h"
#include "pv/xen_abi.h"

namespace popek::pv {

/// Number of VIRQs (xen.h numbers them up to VIRQ_ARCH_7).
inline constexpr uint32_t kNumVirqs = VIRQ_ARCH_7 + 1;

class EventChannels {
public:
    using Upcall = std::function<void(int vcpu)>;
    using Notify = std::function<void()>;

    /// `wake` is called (outside the lock) after every notification, whether or not it raised an upcall: a
    /// vCPU waiting in SCHEDOP_poll on a masked port, or whose upcall flag was already set, must
    /// still re-check its ports (Xen wakes a poller whenever a polled port becomes pending).
    void set_wake(std::function<void()> wake) { m_wake = std::move(wake); }
    /// Where every write of guest RAM is reported (bits, vcpu_info, time, placement); set before
    /// the guest runs. Not owned; null: nobody.
    void set_ram_writes(const RamWrites* writes) { m_writes = writes; }

    /// `max_ports` ≤ EVTCHN_2L_NR_CHANNELS; port 0 is never handed out, as in Xen.
    EventChannels(const memory::GuestMemory& mem, DomId domid, int vcpus, Upcall upcall,
                  uint32_t max_ports = 1024);

    // ---- placement of the guest-visible structures
    /// shared_info now lives in the guest page at `gpa` (page aligned); the host copy moves there.
    PvResult<void> place_shared_info(uint64_t gpa);
    /// VCPUOP_register_vcpu_info: vcpu_info of `vcpu` lives at `gpa` from now on (must not cross a
    /// page, 8-byte aligned). The current contents move along.
    PvResult<void> place_vcpu_info(int vcpu, uint64_t gpa);
    std::optional<uint64_t> shared_info_gpa() const;

    // ---- time (the engine's clock, published where the guest reads it)
    /// Writes `vcpu`'s vcpu_time_info with Xen's version protocol (odd while updating).
    void publish_time(int vcpu, uint64_t tsc_timestamp, uint64_t system_time_ns, uint32_t tsc_to_system_mul,
                      int8_t tsc_shift, uint8_t flags);
    /// Writes shared_info's wall clock (boot time since the Unix epoch), same protocol.
    void publish_wallclock(uint64_t sec, uint32_t nsec);

    // ---- guest operations (EVTCHNOP_*); the structs are read from and written back to the guest
    PvResult<void> alloc_unbound(evtchn_alloc_unbound& op);
    PvResult<void> bind_interdomain(evtchn_bind_interdomain& op);
    PvResult<void> bind_virq(evtchn_bind_virq& op);
    PvResult<void> bind_ipi(evtchn_bind_ipi& op);
    PvResult<void> close(evtchn_port_t port);
    PvResult<void> send(evtchn_port_t port);
    PvResult<void> status(evtchn_status& op);
    PvResult<void> bind_vcpu(const evtchn_bind_vcpu& op);
    PvResult<void> unmask(evtchn_port_t port);

    // ---- control domain (backends, timers)
    /// A back end's EVTCHNOP_bind_interdomain onto the guest's port `guest_port`, which the guest
    /// must have allocated unbound for remote domain `backend` (dom0, or a driver domain whose end
    /// popek holds for it). Returns the back end's local port; `notify` runs when the guest sends.
    PvResult<evtchn_port_t> backend_bind(evtchn_port_t guest_port, Notify notify, DomId backend = kControlDomain);
    /// Makes `backend` (a driver domain popek runs) a domain the guest may allocate unbound ports
    /// for, besides dom0 (ESRCH for any other).
    void add_backend_domain(DomId backend);
    /// A guest port already connected to dom0 (the toolstack's store and console channels).
    struct HostChannel {
        evtchn_port_t guest_port;
        evtchn_port_t backend_port;
    };
    PvResult<HostChannel> host_channel(Notify notify);
    /// dom0 closes its local port: the guest's end goes back to unbound (for remote domain 0).
    PvResult<void> backend_close(evtchn_port_t backend_port);
    /// dom0 sends on its local port: the guest's end becomes pending.
    PvResult<void> backend_send(evtchn_port_t backend_port);
    /// Raises a VIRQ (VIRQ_TIMER is per vCPU; global VIRQs go to the vCPU they are bound to).
    /// Returns false when the guest has not bound it.
    bool raise_virq(uint32_t virq, int vcpu);

    // ---- queries for the scheduler (SCHEDOP_block / poll)
    bool port_pending(evtchn_port_t port) const;
    bool upcall_pending(int vcpu) const;
    uint32_t max_ports() const { return m_max_ports; }
    int vcpus() const { return m_vcpus; }

    // ---- snapshots (docs/snapshot.md "EVTC"; event_channels_snapshot.cpp)
    /// The port table, the VIRQ bindings, dom0's ends and where shared_info and each vcpu_info
    /// live (the pending and mask bits themselves are guest RAM, or the host copy saved here).
    void save(snapshot::Writer& w) const;
    /// Into a domain built like the saved one, before any vCPU runs. dom0 ends whose guest port
    /// is the one the fresh build bound (the store and console channels) keep their handler; the
    /// others get theirs from rebind_backend(). Every value is checked (a hostile file).
    void load(snapshot::Reader& r);
    /// A restored back end takes its dom0 port again: `notify` runs when the guest sends on it.
    /// EINVAL when `backend_port` is no restored dom0 end.
    PvResult<void> rebind_backend(evtchn_port_t backend_port, Notify notify);

private:
    enum class State : uint8_t { Free, Reserved, Unbound, Interdomain, Virq, Ipi };
    struct Channel {
        State state = State::Free;
        uint32_t notify_vcpu = 0;
        DomId remote_dom = 0;
        evtchn_port_t remote_port = 0;   ///< peer port (guest port for loopback, dom0 port otherwise)
        uint32_t virq = 0;
    };
    struct BackendEnd {
        evtchn_port_t guest_port = 0;    ///< 0: free slot
        Notify notify;
    };

    bool valid_vcpu(uint32_t vcpu) const { return vcpu < static_cast<uint32_t>(m_vcpus); }
    bool is_self(DomId dom) const { return dom == DOMID_SELF || dom == m_domid; }
    bool is_backend_domain(DomId dom) const;  ///< with m_lock held
    PvResult<evtchn_port_t> allocate(Channel ch);
    Channel* bound(evtchn_port_t port);
    void free_port(evtchn_port_t port);

    // 2-level bit operations (on guest RAM once placed, else the host copy).
    xen_ulong_t* pending_words() const;
    xen_ulong_t* mask_words() const;
    vcpu_info* vcpu_info_of(uint32_t vcpu) const;
    /// Marks `port` pending; returns the vCPU to upcall, if this made its upcall flag go 0→1.
    std::optional<int> set_pending(evtchn_port_t port);
    std::optional<int> mark_vcpu(uint32_t vcpu, evtchn_port_t port);
    void clear_pending(evtchn_port_t port);
    void upcall(std::optional<int> vcpu) const;
    /// Reports a write (RamWrites): a no-op for the host copies before placement.
    void wrote(const void* host, size_t len) const {
        if (m_writes) m_writes->wrote(host, len);
    }
    void wrote_bit(const xen_ulong_t* words, uint32_t bit) const {
        wrote(&words[bit / (sizeof(xen_ulong_t) * 8)], sizeof(xen_ulong_t));
    }

    const memory::GuestMemory& m_mem;
    const DomId m_domid;
    const int m_vcpus;
    const Upcall m_upcall;
    std::function<void()> m_wake;
    const RamWrites* m_writes = nullptr;
    const uint32_t m_max_ports;

    mutable std::mutex m_lock;
    std::vector<Channel> m_ports;
    std::vector<DomId> m_backend_domains{kControlDomain};
    std::vector<BackendEnd> m_backends;               ///< dom0 ports; index = dom0 port number
    std::vector<std::vector<evtchn_port_t>> m_virqs;  ///< [vcpu][virq] → port (0: unbound)
    std::unique_ptr<shared_info_t> m_host_shared;     ///< before placement
    shared_info_t* m_shared = nullptr;                ///< guest RAM or m_host_shared
    std::optional<uint64_t> m_shared_gpa;
    std::vector<vcpu_info*> m_vcpu_info;              ///< registered vcpu_info, nullptr: default
    std::vector<uint64_t> m_vcpu_info_gpa;            ///< where each registered vcpu_info is
    std::vector<vcpu_info> m_unplaced_vcpu_info;      ///< vCPUs ≥ XEN_LEGACY_MAX_VCPUS, unregistered
};

}  // namespace popek::pv
