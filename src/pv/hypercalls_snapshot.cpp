/// The hypercall layer's own state in a snapshot (docs/snapshot.md "XEN "): which vCPUs are up
/// (VCPUOP_up / VCPUOP_down, vcpu.h) and the frames the guest ballooned out
/// (XENMEM_decrease_reservation, memory.h).
#include "pv/hypercalls.h"

namespace popek::pv {

void Balloon::save(snapshot::Writer& w) const {
    std::lock_guard lock(m_lock);
    w.u64(m_given_back.size());
    for (uint64_t gfn : m_given_back) w.u64(gfn);
}

void Balloon::load(snapshot::Reader& r) {
    const uint64_t n = r.bounded(r.u64(), m_pages, "the frames given back");
    std::set<uint64_t> given;
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
        const uint64_t gfn = r.u64();
        if (!r.ok()) break;
        if (gfn > (~uint64_t{0} >> XEN_PAGE_SHIFT) || !m_mem.contains(gfn << XEN_PAGE_SHIFT, kXenPageSize) ||
            !given.insert(gfn).second)
            r.invalid("ballooned frame {:#x} is not guest RAM or listed twice", gfn);
    }
    if (!r.ok()) return;
    std::lock_guard lock(m_lock);
    m_given_back = std::move(given);
}

void Hypercalls::save(snapshot::Writer& w) const {
    const int vcpus = m_domain.config().vcpus;
    w.u32(static_cast<uint32_t>(vcpus));
    for (int v = 0; v < vcpus; ++v) w.boolean(m_vcpu_up[static_cast<size_t>(v)].load());
    m_balloon.save(w);
}

void Hypercalls::load(snapshot::Reader& r) {
    const int vcpus = m_domain.config().vcpus;
    if (r.u32() != static_cast<uint32_t>(vcpus) && r.ok()) r.invalid("another number of vCPUs");
    std::vector<bool> up;
    for (int v = 0; v < vcpus && r.ok(); ++v) up.push_back(r.boolean());
    m_balloon.load(r);
    if (!r.ok()) return;
    for (int v = 0; v < vcpus; ++v) m_vcpu_up[static_cast<size_t>(v)] = up[static_cast<size_t>(v)];
}

}  // namespace popek::pv
