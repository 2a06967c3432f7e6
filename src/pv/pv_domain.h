#pragma once
/// pv::PvDomain: everything Xen keeps for one PV-on-HVM (PVH) guest domain, with popek playing Xen
/// and the toolstack: its event channels, grant table, the XenStore (with the guest's connection
/// over the store ring), and the HVM parameters (hvm/params.h) through which the guest learns its
/// callback vector and where its store and console rings are.
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "memory/guest_memory.h"
#include "pv/backends/console_backend.h"
#include "pv/event_channels.h"
#include "pv/grant_table.h"
#include "pv/ram_writes.h"
#include "pv/store/store.h"
#include "pv/store_connection.h"
#include "pv/store_ring.h"

namespace popek::pv {

struct PvDomainConfig {
    DomId domid = 1;
    std::string name = "popek-guest";
    int vcpus = 1;
    uint64_t memory_bytes = 0;
    uint32_t max_event_ports = 1024;
    uint32_t max_grant_frames = 64;
    StoreQuota store_quota;
    /// Told of every guest RAM range the domain's Xen side writes (RamWrites), on the writer's
    /// thread; the VMM passes hv::Vm::device_wrote_ram. Empty: nobody.
    RamWrites::Sink ram_written = {};
};

class PvDomain {
public:
    /// `upcall(vcpu)` runs when a vCPU's evtchn_upcall_pending goes 0→1: inject callback_vector().
    PvDomain(const memory::GuestMemory& mem, PvDomainConfig config, EventChannels::Upcall upcall);
    PvDomain(const PvDomain&) = delete;
    PvDomain& operator=(const PvDomain&) = delete;

    DomId domid() const { return m_config.domid; }
    const PvDomainConfig& config() const { return m_config; }
    const memory::GuestMemory& memory() const { return m_mem; }
    EventChannels& event_channels() { return m_evtchn; }
    GrantTable& grant_table() { return m_grants; }
    /// Where back ends report their writes of guest RAM (ring pages they map).
    const RamWrites& ram_writes() const { return m_ram_writes; }

    /// Runs `f(Store&, ConnId control)` as the control domain with the store locked, then delivers
    /// whatever it produced for the guest (watch events) over the store ring.
    template <class F>
    auto with_store(F&& f) {
        std::lock_guard lock(m_store_lock);
        struct Flush {
            PvDomain* self;
            ~Flush() { self->pump_store_locked(); }
        } flush{this};
        return f(m_store, m_control);
    }

    /// A control-domain watch handler. It runs with the store locked, after the store call that
    /// fired the watch has returned, so it may use the store itself.
    using WatchHandler = std::function<void(Store& store, ConnId control, const WatchEvent& event)>;
    /// Watches `path` as the control domain; events with `token` go to `handler`.
    PvResult<void> add_control_watch(const std::string& path, const std::string& token, WatchHandler handler);
    PvResult<void> remove_control_watch(const std::string& path, const std::string& token);

    // ---- HVM parameters (HVMOP_get_param / HVMOP_set_param)
    PvResult<uint64_t> get_param(uint32_t index) const;
    /// Toolstack write: any parameter.
    PvResult<void> set_param(uint32_t index, uint64_t value);
    /// Guest write: only what a guest may set (the callback), EPERM for the toolstack's parameters.
    PvResult<void> guest_set_param(uint32_t index, uint64_t value);
    /// The vector of HVM_PARAM_CALLBACK_IRQ when its type is HVM_PARAM_CALLBACK_TYPE_VECTOR.
    std::optional<uint8_t> callback_vector() const;
    /// HVMOP_set_evtchn_upcall_vector: `vcpu`'s own upcall vector (hvm_op.h), which the guest
    /// acknowledges with a local APIC EOI; it takes precedence over HVM_PARAM_CALLBACK_IRQ.
    /// EINVAL for vectors below 0x10, ENOENT for a vCPU that does not exist.
    PvResult<void> set_upcall_vector(uint32_t vcpu, uint8_t vector);
    /// The vector that announces events to `vcpu`: its own, else the domain's callback vector.
    std::optional<uint8_t> upcall_vector(int vcpu) const;

    /// Toolstack: the store ring lives in guest page `pfn`; allocates its event channel (connected
    /// to popek) and publishes HVM_PARAM_STORE_PFN / STORE_EVTCHN.
    PvResult<void> connect_store(uint64_t pfn);
    /// Serves the guest's store ring now (runs on the store channel's notification).
    void service_store();
    uint64_t store_dropped_events();

    /// Toolstack: the console ring lives in guest page `pfn` (zeroed here); its output goes to
    /// `sink`, called with the console lock held. Allocates its event channel (connected to popek)
    /// and publishes HVM_PARAM_CONSOLE_PFN / CONSOLE_EVTCHN. EINVAL: `pfn` is not guest RAM.
    PvResult<void> connect_console(uint64_t pfn, ConsoleBackend::Sink sink);
    /// Host input for the guest's console (from popek's terminal thread).
    void console_input(std::string_view bytes);
    /// Serves the console ring now (runs on the console channel's notification).
    void service_console();

    // ---- snapshots (docs/snapshot.md "XDOM", "XSTR"; pv_domain_snapshot.cpp)
    /// Holds host console input back while a snapshot is made: save_domain() reads the console
    /// back end's state and the memory file its ring, both under it.
    std::unique_lock<std::mutex> hold_console() { return std::unique_lock(m_console_lock); }
    /// The HVM parameters, the per-vCPU upcall vectors and the console back end (the caller holds
    /// hold_console()). load_domain() requires the toolstack's parameters (store and console
    /// pages and channels) to be the ones this domain was built with.
    void save_domain(snapshot::Writer& w) const;
    void load_domain(snapshot::Reader& r);
    /// Holds the store still (no request, watch handler or back-end state change) while a
    /// snapshot is made; take it before hold_console() and the back ends' locks (a watch handler
    /// takes those with the store held).
    std::unique_lock<std::mutex> hold_store() { return std::unique_lock(m_store_lock); }
    /// The XenStore and the guest's session on the store ring (the caller holds hold_store()).
    void save_store(snapshot::Writer& w);
    void load_store(snapshot::Reader& r);

private:
    void pump_store_locked();

    const memory::GuestMemory& m_mem;
    const PvDomainConfig m_config;
    const RamWrites m_ram_writes;   ///< before the parts that report to it
    EventChannels m_evtchn;
    GrantTable m_grants;

    mutable std::mutex m_param_lock;
    std::array<uint64_t, HVM_NR_PARAMS> m_params{};
    std::vector<uint8_t> m_vcpu_upcall_vector;   ///< per vCPU, 0: none

    std::mutex m_store_lock;
    Store m_store;
    ConnId m_control;
    std::deque<WatchEvent> m_control_events;
    std::map<std::string, WatchHandler> m_watch_handlers;
    std::unique_ptr<StoreRing> m_store_ring;
    std::unique_ptr<StoreConnection> m_store_conn;
    evtchn_port_t m_store_backend_port = 0;

    std::mutex m_console_lock;
    std::unique_ptr<ConsoleBackend> m_console;
    evtchn_port_t m_console_backend_port = 0;
};

/// Name of a SHUTDOWN_* reason for the exit message ("poweroff", "crash", ...).
const char* shutdown_reason_name(unsigned reason);

}  // namespace popek::pv
