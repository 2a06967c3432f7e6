/// PvDomain in a snapshot (docs/snapshot.md "XDOM", "XSTR"): the HVM parameters (hvm/params.h),
/// the vectors of HVMOP_set_evtchn_upcall_vector, the console back end (io/console.h: the ring is
/// guest RAM, host input not yet in it is here), the XenStore and the guest's store session.
#include "pv/pv_domain.h"

namespace popek::pv {

void PvDomain::save_domain(snapshot::Writer& w) const {
    {
        std::lock_guard lock(m_param_lock);
        w.u32(HVM_NR_PARAMS);
        for (uint64_t p : m_params) w.u64(p);
        w.u32(static_cast<uint32_t>(m_vcpu_upcall_vector.size()));
        for (uint8_t v : m_vcpu_upcall_vector) w.u8(v);
    }
    w.boolean(m_console != nullptr);
    if (m_console) m_console->save(w);
}

void PvDomain::load_domain(snapshot::Reader& r) {
    std::array<uint64_t, HVM_NR_PARAMS> params{};
    if (r.u32() != HVM_NR_PARAMS && r.ok()) r.invalid("another number of HVM parameters");
    for (uint64_t& p : params) p = r.u64();
    const uint32_t vcpus = r.u32();
    if (r.ok() && vcpus != m_vcpu_upcall_vector.size())
        r.invalid("upcall vectors for {} vCPUs, this domain has {}", vcpus, m_vcpu_upcall_vector.size());
    std::vector<uint8_t> vectors(m_vcpu_upcall_vector.size());
    for (uint8_t& v : vectors) {
        v = r.u8();
        if (r.ok() && v != 0 && v < 0x10) r.invalid("an upcall vector {:#x}", v);
    }
    {
        std::lock_guard lock(m_param_lock);
        for (uint32_t fixed : {HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN, HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN})
            if (r.ok() && params[fixed] != m_params[fixed])
                r.invalid("HVM parameter {} is {:#x}, this domain's is {:#x}", fixed, params[fixed], m_params[fixed]);
        if (r.ok()) {
            m_params = params;
            m_vcpu_upcall_vector = std::move(vectors);
        }
    }
    std::lock_guard lock(m_console_lock);
    const bool console = r.boolean();
    if (r.ok() && console != (m_console != nullptr)) r.invalid("a console back end where this domain has none, or none");
    if (r.ok() && m_console) m_console->load(r);
}

void PvDomain::save_store(snapshot::Writer& w) {
    m_store.save(w);
    w.boolean(m_store_conn != nullptr);
    if (m_store_conn) {
        m_store_conn->save(w);
        w.boolean(m_store_ring->broken());
    }
}

void PvDomain::load_store(snapshot::Reader& r) {
    std::lock_guard lock(m_store_lock);
    m_store.load(r);
    const bool conn = r.boolean();
    if (r.ok() && conn != (m_store_conn != nullptr)) r.invalid("a store ring session where this domain has none, or none");
    if (r.ok() && m_store_conn) {
        m_store_conn->load(r);
        m_store_ring->set_broken(r.boolean());
    }
    m_control_events.clear();   // the fresh build's own events, answered by the restored store
}

}  // namespace popek::pv
