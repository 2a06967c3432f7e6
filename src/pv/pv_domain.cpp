#include "pv/pv_domain.h"

#include <algorithm>
#include <cstring>

#include "pv/store/store_layout.h"

namespace popek::pv {

PvDomain::PvDomain(const memory::GuestMemory& mem, PvDomainConfig config, EventChannels::Upcall upcall)
    : m_mem(mem),
      m_config(std::move(config)),
      m_ram_writes(mem, m_config.ram_written),
      m_evtchn(mem, m_config.domid, m_config.vcpus, std::move(upcall), m_config.max_event_ports),
      m_grants(mem, m_config.domid, m_config.max_grant_frames),
      m_vcpu_upcall_vector(static_cast<size_t>(std::max(m_config.vcpus, 0)), 0),
      m_store(m_config.store_quota),
      m_control(m_store.connect(kControlDomain, [this](const WatchEvent& e) { m_control_events.push_back(e); })) {
    DomainLayout layout{m_config.domid, m_config.name, m_config.memory_bytes / 1024,
                        static_cast<uint32_t>(m_config.vcpus)};
    // Cannot fail on a fresh store; a failure would be a bug in the layout itself.
    (void)create_domain_layout(m_store, m_control, layout);
    m_evtchn.set_ram_writes(&m_ram_writes);
    m_grants.set_ram_writes(&m_ram_writes);
}

PvResult<uint64_t> PvDomain::get_param(uint32_t index) const {
    if (index >= HVM_NR_PARAMS) return pv_error(EINVAL);
    std::lock_guard lock(m_param_lock);
    return m_params[index];
}

PvResult<void> PvDomain::set_param(uint32_t index, uint64_t value) {
    if (index >= HVM_NR_PARAMS) return pv_error(EINVAL);
    std::lock_guard lock(m_param_lock);
    m_params[index] = value;
    return {};
}

PvResult<void> PvDomain::guest_set_param(uint32_t index, uint64_t value) {
    if (index >= HVM_NR_PARAMS) return pv_error(EINVAL);
    if (index != HVM_PARAM_CALLBACK_IRQ) return pv_error(EPERM);
    uint64_t type = (value & HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) >> 56;
    // A GSI or PCI INTx callback is recorded but never raised: popek routes no interrupt line
    // for it. Linux sets GSI 1 this way next to its per-vCPU upcall vectors (xen_set_upcall_vector,
    // "trick toolstack to think we are enlightened") and fails the CPU's bring-up if refused.
    if (type == HVM_PARAM_CALLBACK_TYPE_GSI || type == HVM_PARAM_CALLBACK_TYPE_PCI_INTX) return set_param(index, value);
    if (type != HVM_PARAM_CALLBACK_TYPE_VECTOR || (value & 0xFF) < 0x10) return pv_error(EINVAL);
    return set_param(index, value);
}

std::optional<uint8_t> PvDomain::callback_vector() const {
    std::lock_guard lock(m_param_lock);
    uint64_t v = m_params[HVM_PARAM_CALLBACK_IRQ];
    if (((v & HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) >> 56) != HVM_PARAM_CALLBACK_TYPE_VECTOR) return std::nullopt;
    return static_cast<uint8_t>(v & 0xFF);
}

PvResult<void> PvDomain::set_upcall_vector(uint32_t vcpu, uint8_t vector) {
    if (vcpu >= m_vcpu_upcall_vector.size()) return pv_error(ENOENT);
    if (vector < 0x10) return pv_error(EINVAL);   // exceptions and reserved vectors, as Xen
    std::lock_guard lock(m_param_lock);
    m_vcpu_upcall_vector[vcpu] = vector;
    return {};
}

std::optional<uint8_t> PvDomain::upcall_vector(int vcpu) const {
    {
        std::lock_guard lock(m_param_lock);
        if (vcpu >= 0 && static_cast<size_t>(vcpu) < m_vcpu_upcall_vector.size() &&
            m_vcpu_upcall_vector[static_cast<size_t>(vcpu)] != 0)
            return m_vcpu_upcall_vector[static_cast<size_t>(vcpu)];
    }
    return callback_vector();
}

PvResult<void> PvDomain::connect_store(uint64_t pfn) {
    auto page = m_mem.slice(pfn << XEN_PAGE_SHIFT, kXenPageSize);
    if (!page) return pv_error(EINVAL);
    auto channel = TRY(m_evtchn.host_channel([this] { service_store(); }));
    {
        std::lock_guard lock(m_store_lock);
        std::memset(page->data(), 0, page->size());
        m_ram_writes.wrote(page->data(), page->size());
        m_store_ring = std::make_unique<StoreRing>(*page, &m_ram_writes);
        m_store_ring->initialise();
        m_store_conn = std::make_unique<StoreConnection>(m_store, m_config.domid);
        m_store_backend_port = channel.backend_port;
    }
    TRY_VOID(set_param(HVM_PARAM_STORE_PFN, pfn));
    return set_param(HVM_PARAM_STORE_EVTCHN, channel.guest_port);
}

void PvDomain::service_store() {
    std::lock_guard lock(m_store_lock);
    pump_store_locked();
}

PvResult<void> PvDomain::add_control_watch(const std::string& path, const std::string& token,
                                           WatchHandler handler) {
    return with_store([&](Store& store, ConnId control) -> PvResult<void> {
        m_watch_handlers[token] = std::move(handler);
        auto r = store.watch(control, path, token);
        if (!r) m_watch_handlers.erase(token);
        return r;
    });
}

PvResult<void> PvDomain::remove_control_watch(const std::string& path, const std::string& token) {
    return with_store([&](Store& store, ConnId control) -> PvResult<void> {
        m_watch_handlers.erase(token);
        return store.unwatch(control, path, token);
    });
}

void PvDomain::pump_store_locked() {
    // Control-domain watch handlers first (they may change the store and fire more watches);
    // bounded, because handlers reacting to each other must not hang a vCPU.
    // The guest's requests (pumped below) may fire control watches in turn: run those handlers
    // now too, not at the guest's next store request (a front end may just wait for an event).
    int handled = 0;
    for (int round = 0; round < 8; ++round) {
        for (; handled < 4096 && !m_control_events.empty(); ++handled) {
            WatchEvent e = std::move(m_control_events.front());
            m_control_events.pop_front();
            auto h = m_watch_handlers.find(e.token);
            if (h != m_watch_handlers.end()) h->second(m_store, m_control, e);
        }
        if (!m_store_conn || !m_store_ring) return;
        if (m_store_conn->pump(*m_store_ring)) (void)m_evtchn.backend_send(m_store_backend_port);
        if (m_control_events.empty()) return;
    }
}

uint64_t PvDomain::store_dropped_events() {
    std::lock_guard lock(m_store_lock);
    return m_store_conn ? m_store_conn->dropped_events() : 0;
}

PvResult<void> PvDomain::connect_console(uint64_t pfn, ConsoleBackend::Sink sink) {
    auto page = m_mem.slice(pfn << XEN_PAGE_SHIFT, kXenPageSize);
    if (!page) return pv_error(EINVAL);
    auto channel = TRY(m_evtchn.host_channel([this] { service_console(); }));
    {
        std::lock_guard lock(m_console_lock);
        std::memset(page->data(), 0, page->size());
        m_ram_writes.wrote(page->data(), page->size());
        m_console = std::make_unique<ConsoleBackend>(*page, std::move(sink), &m_ram_writes);
        m_console_backend_port = channel.backend_port;
    }
    TRY_VOID(set_param(HVM_PARAM_CONSOLE_PFN, pfn));
    return set_param(HVM_PARAM_CONSOLE_EVTCHN, channel.guest_port);
}

void PvDomain::service_console() {
    std::lock_guard lock(m_console_lock);
    if (m_console && m_console->service()) (void)m_evtchn.backend_send(m_console_backend_port);
}

void PvDomain::console_input(std::string_view bytes) {
    std::lock_guard lock(m_console_lock);
    if (m_console && m_console->push_input(bytes)) (void)m_evtchn.backend_send(m_console_backend_port);
}

const char* shutdown_reason_name(unsigned reason) {
    switch (reason) {
    case SHUTDOWN_poweroff: return "poweroff";
    case SHUTDOWN_reboot: return "reboot";
    case SHUTDOWN_suspend: return "suspend";
    case SHUTDOWN_crash: return "crash";
    case SHUTDOWN_watchdog: return "watchdog";
    default: return "unknown";
    }
}

}  // namespace popek::pv
