#include "pv/balloon.h"

#include <array>

#include "pv/xen_abi.h"

namespace popek::pv {

bool Balloon::give_back(uint64_t gfn) {
    if (gfn > (~uint64_t{0} >> XEN_PAGE_SHIFT) || !m_mem.contains(gfn << XEN_PAGE_SHIFT, kXenPageSize)) return false;
    std::lock_guard lock(m_lock);
    if (!m_given_back.insert(gfn).second) return false;
    static constexpr std::array<uint8_t, kXenPageSize> kZero{};
    (void)m_mem.write(gfn << XEN_PAGE_SHIFT, kZero);   // the old contents are gone, as on Xen
    if (m_writes) m_writes->wrote_gpa(gfn << XEN_PAGE_SHIFT, kXenPageSize);
    return true;
}

bool Balloon::repopulate(uint64_t gfn) {
    std::lock_guard lock(m_lock);
    return m_given_back.erase(gfn) == 1;
}

std::optional<uint64_t> Balloon::take_any() {
    std::lock_guard lock(m_lock);
    if (m_given_back.empty()) return std::nullopt;
    const uint64_t gfn = *m_given_back.begin();
    m_given_back.erase(m_given_back.begin());
    return gfn;
}

uint64_t Balloon::current_pages() const {
    std::lock_guard lock(m_lock);
    return m_pages - m_given_back.size();
}

}  // namespace popek::pv
