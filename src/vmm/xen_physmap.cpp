#include "vmm/xen_physmap.h"

#include <atomic>
#include <cstring>

namespace popek::vmm {

namespace {

constexpr uint64_t kPageShift = 12, kPageSize = uint64_t{1} << kPageShift;

/// Naturally aligned 2/4/8-byte accesses are single atomic loads and stores, so the guest and the
/// back ends (which update grant flags with atomic operations) never see torn values.
template <class T>
bool atomic_copy(uint8_t* host, void* out, const void* in) {
    if (reinterpret_cast<uintptr_t>(host) % sizeof(T) != 0) return false;
    std::atomic_ref<T> ref(*reinterpret_cast<T*>(host));
    if (out != nullptr) {
        T v = ref.load();
        std::memcpy(out, &v, sizeof(T));
    } else {
        T v;
        std::memcpy(&v, in, sizeof(T));
        ref.store(v);
    }
    return true;
}

bool atomic_access(uint8_t* host, size_t len, void* out, const void* in) {
    switch (len) {
    case 1: return atomic_copy<uint8_t>(host, out, in);
    case 2: return atomic_copy<uint16_t>(host, out, in);
    case 4: return atomic_copy<uint32_t>(host, out, in);
    case 8: return atomic_copy<uint64_t>(host, out, in);
    default: return false;
    }
}

}  // namespace

bool XenPhysmap::map(uint64_t gpfn, std::span<uint8_t> page) {
    if (page.size() < kPageSize) return false;
    if (gpfn < (m_base >> kPageShift) || gpfn >= ((m_base + m_size) >> kPageShift)) return false;
    std::lock_guard lock(m_lock);
    std::erase_if(m_pages, [&](const auto& e) { return e.second == page.data(); });
    m_pages[gpfn] = page.data();
    return true;
}

size_t XenPhysmap::mapped_pages() const {
    std::lock_guard lock(m_lock);
    return m_pages.size();
}

std::vector<std::pair<uint64_t, uint8_t*>> XenPhysmap::mappings() const {
    std::lock_guard lock(m_lock);
    return {m_pages.begin(), m_pages.end()};
}

uint8_t* XenPhysmap::locate(uint64_t offset, size_t len) const {
    uint64_t gpa = m_base + offset;
    uint64_t in_page = gpa & (kPageSize - 1);
    if (in_page + len > kPageSize) return nullptr;   // crosses into another page: unclaimed
    auto it = m_pages.find(gpa >> kPageShift);
    return it == m_pages.end() ? nullptr : it->second + in_page;
}

void XenPhysmap::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_lock);
    uint8_t* host = locate(offset, data.size());
    if (host == nullptr) {
        std::memset(data.data(), 0xff, data.size());
        return;
    }
    if (!atomic_access(host, data.size(), data.data(), nullptr)) std::memcpy(data.data(), host, data.size());
}

void XenPhysmap::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_lock);
    uint8_t* host = locate(offset, data.size());
    if (host == nullptr) return;
    if (!atomic_access(host, data.size(), nullptr, data.data())) std::memcpy(host, data.data(), data.size());
}

}  // namespace popek::vmm
