#include "pv/event_channels.h"

#include <atomic>
#include <cstring>

namespace popek::pv {

namespace {

constexpr uint32_t kBitsPerWord = sizeof(xen_ulong_t) * 8;

/// Atomic test-and-set / test-and-clear of bit `bit` in a bitmap of xen_ulong_t in guest memory.
bool test_and_set(xen_ulong_t* words, uint32_t bit) {
    xen_ulong_t m = xen_ulong_t{1} << (bit % kBitsPerWord);
    return (std::atomic_ref<xen_ulong_t>(words[bit / kBitsPerWord]).fetch_or(m) & m) != 0;
}
bool test_and_clear(xen_ulong_t* words, uint32_t bit) {
    xen_ulong_t m = xen_ulong_t{1} << (bit % kBitsPerWord);
    return (std::atomic_ref<xen_ulong_t>(words[bit / kBitsPerWord]).fetch_and(~m) & m) != 0;
}
bool test(xen_ulong_t* words, uint32_t bit) {
    xen_ulong_t m = xen_ulong_t{1} << (bit % kBitsPerWord);
    return (std::atomic_ref<xen_ulong_t>(words[bit / kBitsPerWord]).load() & m) != 0;
}

}  // namespace

EventChannels::EventChannels(const memory::GuestMemory& mem, DomId domid, int vcpus, Upcall upcall,
                             uint32_t max_ports)
    : m_mem(mem),
      m_domid(domid),
      m_vcpus(vcpus),
      m_upcall(std::move(upcall)),
      m_max_ports(std::min<uint32_t>(max_ports, EVTCHN_2L_NR_CHANNELS)),
      m_ports(m_max_ports),
      m_backends(1),  // dom0 port 0 is reserved too
      m_virqs(static_cast<size_t>(vcpus), std::vector<evtchn_port_t>(kNumVirqs, 0)),
      m_host_shared(std::make_unique<shared_info_t>()),
      m_vcpu_info(static_cast<size_t>(vcpus), nullptr),
      m_vcpu_info_gpa(static_cast<size_t>(vcpus), 0),
      m_unplaced_vcpu_info(static_cast<size_t>(vcpus)) {
    std::memset(m_host_shared.get(), 0, sizeof(shared_info_t));
    std::memset(m_unplaced_vcpu_info.data(), 0, m_unplaced_vcpu_info.size() * sizeof(vcpu_info));
    m_shared = m_host_shared.get();
    if (!m_ports.empty()) m_ports[0].state = State::Reserved;
}

// ---------------------------------------------------------------- placement

PvResult<void> EventChannels::place_shared_info(uint64_t gpa) {
    static_assert(sizeof(shared_info_t) <= kXenPageSize);
    if (gpa % kXenPageSize != 0) return pv_error(EINVAL);
    auto page = m_mem.slice(gpa, kXenPageSize);
    if (!page) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    auto* dest = reinterpret_cast<shared_info_t*>(page->data());
    if (dest != m_shared) {
        std::memmove(dest, m_shared, sizeof(shared_info_t));
        std::memset(reinterpret_cast<uint8_t*>(dest) + sizeof(shared_info_t), 0,
                    kXenPageSize - sizeof(shared_info_t));
        wrote(dest, kXenPageSize);
    }
    m_shared = dest;
    m_shared_gpa = gpa;
    return {};
}

std::optional<uint64_t> EventChannels::shared_info_gpa() const {
    std::lock_guard lock(m_lock);
    return m_shared_gpa;
}

PvResult<void> EventChannels::place_vcpu_info(int vcpu, uint64_t gpa) {
    if (vcpu < 0 || !valid_vcpu(static_cast<uint32_t>(vcpu))) return pv_error(ENOENT);
    // Must fit in one page and keep the 8-byte fields aligned for atomic access.
    if (gpa % 8 != 0 || gpa % kXenPageSize > kXenPageSize - sizeof(vcpu_info)) return pv_error(EINVAL);
    auto area = m_mem.slice(gpa, sizeof(vcpu_info));
    if (!area) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    auto index = static_cast<uint32_t>(vcpu);
    vcpu_info* old = vcpu_info_of(index);
    auto* dest = reinterpret_cast<vcpu_info*>(area->data());
    if (dest != old) {
        std::memmove(dest, old, sizeof(vcpu_info));
        wrote(dest, sizeof(vcpu_info));
    }
    m_vcpu_info[index] = dest;
    m_vcpu_info_gpa[index] = gpa;
    return {};
}

namespace {

/// Xen's update protocol for versioned guest-visible records: version odd while the fields change.
template <class F>
void versioned_update(uint32_t& version, F&& fill) {
    std::atomic_ref<uint32_t> v(version);
    uint32_t start = v.load(std::memory_order_relaxed) | 1;
    v.store(start, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    fill();
    std::atomic_thread_fence(std::memory_order_release);
    v.store(start + 1, std::memory_order_relaxed);
}

}  // namespace

void EventChannels::publish_time(int vcpu, uint64_t tsc_timestamp, uint64_t system_time_ns,
                                 uint32_t tsc_to_system_mul, int8_t tsc_shift, uint8_t flags) {
    if (vcpu < 0 || !valid_vcpu(static_cast<uint32_t>(vcpu))) return;
    std::lock_guard lock(m_lock);
    vcpu_time_info& t = vcpu_info_of(static_cast<uint32_t>(vcpu))->time;
    versioned_update(t.version, [&] {
        t.tsc_timestamp = tsc_timestamp;
        t.system_time = system_time_ns;
        t.tsc_to_system_mul = tsc_to_system_mul;
        t.tsc_shift = tsc_shift;
        t.flags = flags;
    });
    wrote(&t, sizeof(t));
}

void EventChannels::publish_wallclock(uint64_t sec, uint32_t nsec) {
    std::lock_guard lock(m_lock);
    versioned_update(m_shared->wc_version, [&] {
        m_shared->wc_sec = static_cast<uint32_t>(sec);
        m_shared->xen_wc_sec_hi = static_cast<uint32_t>(sec >> 32);
        m_shared->wc_nsec = nsec;
    });
    wrote(&m_shared->wc_version, sizeof(m_shared->wc_version));
    wrote(&m_shared->wc_sec, sizeof(m_shared->wc_sec) + sizeof(m_shared->wc_nsec));
    wrote(&m_shared->xen_wc_sec_hi, sizeof(m_shared->xen_wc_sec_hi));
}

xen_ulong_t* EventChannels::pending_words() const { return m_shared->evtchn_pending; }
xen_ulong_t* EventChannels::mask_words() const { return m_shared->evtchn_mask; }

vcpu_info* EventChannels::vcpu_info_of(uint32_t vcpu) const {
    if (m_vcpu_info[vcpu] != nullptr) return m_vcpu_info[vcpu];
    if (vcpu < XEN_LEGACY_MAX_VCPUS) return &m_shared->vcpu_info[vcpu];
    return const_cast<vcpu_info*>(&m_unplaced_vcpu_info[vcpu]);
}

// ---------------------------------------------------------------- 2-level delivery

std::optional<int> EventChannels::mark_vcpu(uint32_t vcpu, evtchn_port_t port) {
    vcpu_info* vi = vcpu_info_of(vcpu);
    xen_ulong_t sel_bit = xen_ulong_t{1} << (port / kBitsPerWord);
    if (std::atomic_ref<xen_ulong_t>(vi->evtchn_pending_sel).fetch_or(sel_bit) & sel_bit) return std::nullopt;
    wrote(&vi->evtchn_pending_sel, sizeof(vi->evtchn_pending_sel));
    if (std::atomic_ref<uint8_t>(vi->evtchn_upcall_pending).exchange(1) != 0) return std::nullopt;
    wrote(&vi->evtchn_upcall_pending, sizeof(vi->evtchn_upcall_pending));
    return static_cast<int>(vcpu);
}

std::optional<int> EventChannels::set_pending(evtchn_port_t port) {
    if (test_and_set(pending_words(), port)) return std::nullopt;
    wrote_bit(pending_words(), port);
    if (test(mask_words(), port)) return std::nullopt;
    return mark_vcpu(m_ports[port].notify_vcpu, port);
}

void EventChannels::clear_pending(evtchn_port_t port) {
    if (test_and_clear(pending_words(), port)) wrote_bit(pending_words(), port);
}

void EventChannels::upcall(std::optional<int> vcpu) const {
    if (vcpu && m_upcall) m_upcall(*vcpu);
    if (m_wake) m_wake();
}

bool EventChannels::port_pending(evtchn_port_t port) const {
    std::lock_guard lock(m_lock);
    return port < m_max_ports && test(pending_words(), port);
}

bool EventChannels::upcall_pending(int vcpu) const {
    if (vcpu < 0 || !valid_vcpu(static_cast<uint32_t>(vcpu))) return false;
    std::lock_guard lock(m_lock);
    return std::atomic_ref<uint8_t>(vcpu_info_of(static_cast<uint32_t>(vcpu))->evtchn_upcall_pending).load() != 0;
}

// ---------------------------------------------------------------- port table

PvResult<evtchn_port_t> EventChannels::allocate(Channel ch) {
    for (evtchn_port_t p = 1; p < m_max_ports; ++p) {
        if (m_ports[p].state != State::Free) continue;
        m_ports[p] = ch;
        return p;
    }
    return pv_error(ENOSPC);
}

EventChannels::Channel* EventChannels::bound(evtchn_port_t port) {
    if (port >= m_max_ports) return nullptr;
    Channel& ch = m_ports[port];
    return (ch.state == State::Free || ch.state == State::Reserved) ? nullptr : &ch;
}

void EventChannels::free_port(evtchn_port_t port) {
    clear_pending(port);
    m_ports[port] = Channel{};
}

}  // namespace popek::pv
