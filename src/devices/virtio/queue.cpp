#include "devices/virtio/queue.h"

#include <atomic>
#include <bit>
#include <limits>

namespace popek::devices::virtio {
namespace {

/// 16-bit ring indices are read and written whole (2.7.6/2.7.8 ask for it); the areas were checked
/// to be aligned and inside RAM when the queue was enabled, so the host pointer is valid.
Result<uint16_t> load_u16(const memory::GuestMemory& mem, memory::GuestAddress gpa) {
    auto s = TRY(mem.slice(gpa, 2));
    return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(s.data())).load(std::memory_order_acquire);
}

Result<void> store_u16(const memory::GuestMemory& mem, memory::GuestAddress gpa, uint16_t value) {
    auto s = TRY(mem.slice(gpa, 2));
    std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(s.data())).store(value, std::memory_order_release);
    return {};
}

Result<void> check_area(const memory::GuestMemory& mem, const char* what, memory::GuestAddress gpa,
                        uint64_t len, uint64_t align) {
    if (gpa % align != 0) return fail("{} area {:#x} is not {}-byte aligned", what, gpa, align);
    if (!mem.contains(gpa, len)) return fail("{} area [{:#x}, +{:#x}) is outside guest RAM", what, gpa, len);
    return {};
}

/// 2.7.10 vring_need_event: interrupt when the used index passed `event` since `old`.
bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
    return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace

Result<void> Queue::enable(const memory::GuestMemory& mem, bool indirect, bool event_idx) {
    if (m_size == 0 || m_size > m_max_size || !std::has_single_bit(m_size))
        return fail("queue size {} is not a power of 2 in [1, {}]", m_size, m_max_size);
    TRY_VOID(check_area(mem, "descriptor", m_desc, desc_table_bytes(m_size), kDescAlign));
    TRY_VOID(check_area(mem, "driver (available)", m_avail, avail_ring_bytes(m_size), kAvailAlign));
    TRY_VOID(check_area(mem, "device (used)", m_used, used_ring_bytes(m_size), kUsedAlign));
    m_indirect = indirect;
    m_event_idx = event_idx;
    m_broken = false;
    // Both rings start at index 0 (2.7.6, 2.7.8: the driver hands over zeroed rings); the device's
    // copies start there too and never trust what the used ring happens to hold.
    m_next_avail = m_next_used = m_signalled_used = 0;
    m_ready = true;
    return {};
}

void Queue::reset() {
    m_size = m_max_size;
    m_desc = m_avail = m_used = 0;
    m_ready = m_indirect = m_event_idx = m_broken = false;
    m_next_avail = m_next_used = m_signalled_used = 0;
}

template <class T>
Result<T> Queue::broken_error(Error e) {
    m_broken = true;
    return std::unexpected(std::move(e));
}

Result<uint16_t> Queue::load_avail_idx(const memory::GuestMemory& mem) const {
    uint16_t idx = TRY(load_u16(mem, m_avail + 2));
    // The ring entries and descriptors the driver published before this index must be read after it.
    std::atomic_thread_fence(std::memory_order_acquire);
    return idx;
}

Result<bool> Queue::pop(const memory::GuestMemory& mem, Chain& chain) {
    if (!m_ready) return fail("queue is not ready");
    if (m_broken) return fail("queue is broken and needs a device reset");
    auto idx = load_avail_idx(mem);
    if (!idx) return broken_error<bool>(idx.error());
    uint16_t pending = static_cast<uint16_t>(*idx - m_next_avail);
    if (pending == 0 && m_event_idx) {
        // 2.7.10: ask for a kick at the next buffer, then look again, so that a buffer added between
        // the first look and the avail_event store is not missed.
        if (auto r = store_u16(mem, m_used + 4 + 8ull * m_size, m_next_avail); !r) return broken_error<bool>(r.error());
        std::atomic_thread_fence(std::memory_order_seq_cst);
        idx = load_avail_idx(mem);
        if (!idx) return broken_error<bool>(idx.error());
        pending = static_cast<uint16_t>(*idx - m_next_avail);
    }
    if (pending == 0) return false;
    if (pending > m_size)
        return broken_error<bool>(Error{fmt::format("available index {} is {} entries ahead of {} on a queue of {}",
                                                    *idx, pending, m_next_avail, m_size)});
    auto head = load_u16(mem, m_avail + 4 + 2ull * (m_next_avail % m_size));
    if (!head) return broken_error<bool>(head.error());
    if (auto r = walk(mem, *head, chain); !r) return broken_error<bool>(r.error());
    ++m_next_avail;
    return true;
}

Result<void> Queue::add_buffer(const memory::GuestMemory& mem, const VirtqDesc& d, Chain& chain) const {
    if (d.len != 0 && !mem.contains(d.addr, d.len))
        return fail("descriptor buffer [{:#x}, +{:#x}) is outside guest RAM", d.addr, d.len);
    Segments& into = (d.flags & kDescFlagWrite) ? chain.writable : chain.readable;
    // 2.7.4.2: device-writable descriptors come after all device-readable ones.
    if (!(d.flags & kDescFlagWrite) && !chain.writable.empty())
        return fail("device-readable descriptor after a device-writable one");
    if (into.size() + d.len > std::numeric_limits<uint32_t>::max())
        return fail("descriptor chain is longer than 4 GiB");
    into.push(Segment{d.addr, d.len});
    return {};
}

Result<void> Queue::walk(const memory::GuestMemory& mem, uint16_t head, Chain& chain) const {
    chain.clear();
    chain.head = head;
    if (head >= m_size) return fail("chain head {} is outside a queue of {}", head, m_size);
    memory::GuestAddress table = m_desc;
    uint32_t table_len = m_size;
    // 2.7.5.3.1: a chain is never longer than the queue size, so this bounds cycles as well.
    uint32_t budget = m_size;
    bool indirect = false;
    uint32_t index = head;
    for (uint32_t seen = 0;; ++seen) {
        if (seen >= budget) return fail("descriptor chain from head {} is longer than {} (a loop?)", head, budget);
        auto d = TRY(mem.read_obj<VirtqDesc>(table + 16ull * index));
        if (d.flags & kDescFlagIndirect) {
            // 2.7.5.3.1: only with the feature, only one level, never combined with NEXT.
            if (!m_indirect) return fail("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
            if (indirect) return fail("nested indirect descriptor");
            if (d.flags & kDescFlagNext) return fail("indirect descriptor with the NEXT flag");
            if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > m_size)
                return fail("indirect table of {} bytes (queue size {})", d.len, m_size);
            if (!mem.contains(d.addr, d.len)) return fail("indirect table {:#x} is outside guest RAM", d.addr);
            if (!chain.readable.empty() || !chain.writable.empty())
                return fail("indirect descriptor in the middle of a chain");
            indirect = true;
            table = d.addr;
            table_len = d.len / 16;
            budget = table_len;
            index = 0;
            seen = std::numeric_limits<uint32_t>::max();  // ++ wraps to 0
            continue;
        }
        TRY_VOID(add_buffer(mem, d, chain));
        if (!(d.flags & kDescFlagNext)) return {};
        index = d.next;
        if (index >= table_len) return fail("descriptor next {} is outside a table of {}", index, table_len);
    }
}

Result<void> Queue::add_used(const memory::GuestMemory& mem, uint16_t head, uint32_t written) {
    if (!m_ready || m_broken) return fail("queue is not usable");
    if (in_flight() == 0) return broken_error<void>(Error{"used entry with no chain in flight"});
    VirtqUsedElem elem{head, written};
    if (auto r = mem.write_obj(m_used + 4 + 8ull * (m_next_used % m_size), elem); !r) return broken_error<void>(r.error());
    ++m_next_used;
    // The element must be visible before the index that publishes it (2.7.8, release store).
    if (auto r = store_u16(mem, m_used + 2, m_next_used); !r) return broken_error<void>(r.error());
    return {};
}

Result<void> Queue::add_used(const memory::GuestMemory& mem, const Chain& chain, uint32_t written) {
    const bool report = m_reporter && *m_reporter;
    // Before the used entry: a driver polling the used ring must not run code it sees completed
    // before the engine has dropped what it decoded from the old bytes.
    if (report)
        for (const Segment& s : chain.writable.list()) (*m_reporter)(s.addr, s.len);
    const uint16_t slot = static_cast<uint16_t>(m_next_used % (m_size ? m_size : 1));
    TRY_VOID(add_used(mem, chain.head, written));
    if (report) {
        (*m_reporter)(m_used + 4 + 8ull * slot, sizeof(VirtqUsedElem));
        (*m_reporter)(m_used + 2, sizeof(uint16_t));
    }
    return {};
}

Result<bool> Queue::should_interrupt(const memory::GuestMemory& mem) {
    if (!m_ready) return false;
    // Our used idx store must be ordered before reading the driver's suppression fields (store->load).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (m_event_idx) {
        uint16_t old_idx = m_signalled_used;
        m_signalled_used = m_next_used;
        uint16_t used_event = TRY(load_u16(mem, m_avail + 4 + 2ull * m_size));
        return need_event(used_event, m_next_used, old_idx);
    }
    uint16_t flags = TRY(load_u16(mem, m_avail));
    return (flags & kAvailFlagNoInterrupt) == 0;
}

}  // namespace popek::devices::virtio
