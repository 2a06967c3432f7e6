/// EventChannels in a snapshot (docs/snapshot.md "EVTC"). The 2-level pending and mask bitmaps
/// and each vcpu_info's selector and upcall flag are guest RAM once placed (xen.h "shared_info",
/// "vcpu_info") and travel in the memory file; what lives only in popek is written here: the port
/// table (event_channel.h EVTCHNSTAT_*), the VIRQ bindings, dom0's ends of interdomain channels,
/// where shared_info and every registered vcpu_info are (VCPUOP_register_vcpu_info), and the host
/// copies used before the guest placed them.
#include <cstring>

#include "pv/event_channels.h"

namespace popek::pv {
namespace {

constexpr uint32_t kMaxBackendDomains = 64;

}  // namespace

void EventChannels::save(snapshot::Writer& w) const {
    std::lock_guard lock(m_lock);
    w.u32(m_max_ports);
    w.u32(static_cast<uint32_t>(m_vcpus));
    w.boolean(m_shared_gpa.has_value());
    if (m_shared_gpa) w.u64(*m_shared_gpa);
    else w.bytes(std::span(reinterpret_cast<const uint8_t*>(m_host_shared.get()), sizeof(shared_info_t)));
    for (size_t v = 0; v < m_vcpu_info.size(); ++v) {
        w.boolean(m_vcpu_info[v] != nullptr);
        if (m_vcpu_info[v]) w.u64(m_vcpu_info_gpa[v]);
        w.bytes(std::span(reinterpret_cast<const uint8_t*>(&m_unplaced_vcpu_info[v]), sizeof(vcpu_info)));
    }
    uint32_t used = 0;
    for (evtchn_port_t p = 1; p < m_max_ports; ++p) used += m_ports[p].state != State::Free ? 1 : 0;
    w.u32(used);
    for (evtchn_port_t p = 1; p < m_max_ports; ++p) {
        const Channel& ch = m_ports[p];
        if (ch.state == State::Free) continue;
        w.u32(p);
        w.u8(static_cast<uint8_t>(ch.state));
        w.u32(ch.notify_vcpu);
        w.u16(ch.remote_dom);
        w.u32(ch.remote_port);
        w.u32(ch.virq);
    }
    w.u32(static_cast<uint32_t>(m_backend_domains.size()));
    for (DomId d : m_backend_domains) w.u16(d);
    w.u32(static_cast<uint32_t>(m_backends.size()));
    for (const BackendEnd& b : m_backends) w.u32(b.guest_port);
    for (const auto& per_vcpu : m_virqs)
        for (evtchn_port_t port : per_vcpu) w.u32(port);
}

void EventChannels::load(snapshot::Reader& r) {
    std::lock_guard lock(m_lock);
    const uint32_t max_ports = r.u32(), vcpus = r.u32();
    if (r.ok() && (max_ports != m_max_ports || vcpus != static_cast<uint32_t>(m_vcpus)))
        r.invalid("{} ports and {} vCPUs, this domain has {} and {}", max_ports, vcpus, m_max_ports, m_vcpus);
    // shared_info: in guest RAM (its page must be RAM) or still the host copy.
    shared_info_t* shared = m_host_shared.get();
    std::optional<uint64_t> shared_gpa;
    if (r.boolean()) {
        const uint64_t gpa = r.u64();
        uint8_t* page = gpa % kXenPageSize == 0 ? m_mem.host_ptr(gpa, kXenPageSize) : nullptr;
        if (r.ok() && !page) r.invalid("shared_info at {:#x} is not a page of guest RAM", gpa);
        if (page) shared = reinterpret_cast<shared_info_t*>(page), shared_gpa = gpa;
    } else {
        r.bytes(std::span(reinterpret_cast<uint8_t*>(m_host_shared.get()), sizeof(shared_info_t)));
    }
    std::vector<vcpu_info*> infos(m_vcpu_info.size(), nullptr);
    std::vector<uint64_t> gpas(m_vcpu_info.size(), 0);
    for (size_t v = 0; v < infos.size(); ++v) {
        if (r.boolean()) {
            const uint64_t gpa = r.u64();
            // As place_vcpu_info checks it: 8-byte aligned, within one page, guest RAM.
            uint8_t* area = gpa % 8 == 0 && gpa % kXenPageSize <= kXenPageSize - sizeof(vcpu_info)
                                ? m_mem.host_ptr(gpa, sizeof(vcpu_info))
                                : nullptr;
            if (r.ok() && !area) r.invalid("vCPU {}'s vcpu_info at {:#x} is not placeable", v, gpa);
            if (area) infos[v] = reinterpret_cast<vcpu_info*>(area), gpas[v] = gpa;
        }
        r.bytes(std::span(reinterpret_cast<uint8_t*>(&m_unplaced_vcpu_info[v]), sizeof(vcpu_info)));
    }
    std::vector<Channel> ports(m_max_ports);
    if (!ports.empty()) ports[0].state = State::Reserved;
    const uint32_t used = r.bounded(r.u32(), m_max_ports, "the number of ports in use");
    for (uint32_t i = 0; i < used && r.ok(); ++i) {
        const uint32_t port = r.u32();
        Channel ch;
        const uint8_t state = r.u8();
        ch.notify_vcpu = r.u32();
        ch.remote_dom = r.u16();
        ch.remote_port = r.u32();
        ch.virq = r.u32();
        if (!r.ok()) break;
        if (port == 0 || port >= m_max_ports || ports[port].state != State::Free)
            r.invalid("port {} is out of range or listed twice", port);
        else if (state < static_cast<uint8_t>(State::Unbound) || state > static_cast<uint8_t>(State::Ipi))
            r.invalid("port {} has state {}", port, state);
        else if (ch.notify_vcpu >= vcpus || ch.virq >= kNumVirqs)
            r.invalid("port {} notifies vCPU {} for VIRQ {}", port, ch.notify_vcpu, ch.virq);
        ch.state = static_cast<State>(state);
        if (r.ok()) ports[port] = ch;
    }
    std::vector<DomId> domains;
    const uint32_t ndomains = r.bounded(r.u32(), kMaxBackendDomains, "the number of back-end domains");
    for (uint32_t i = 0; i < ndomains && r.ok(); ++i) domains.push_back(r.u16());
    const uint32_t nbackends = r.bounded(r.u32(), m_max_ports, "the number of dom0 ports");
    std::vector<BackendEnd> backends(r.ok() ? std::max<uint32_t>(nbackends, 1) : 1);
    for (uint32_t i = 0; i < nbackends && r.ok(); ++i) {
        backends[i].guest_port = r.bounded(r.u32(), m_max_ports - 1, "a dom0 port's guest port");
        // The handler of a channel the fresh build bound the same way (store, console) stays.
        if (i < m_backends.size() && m_backends[i].guest_port == backends[i].guest_port)
            backends[i].notify = m_backends[i].notify;
    }
    std::vector<std::vector<evtchn_port_t>> virqs(m_virqs.size(), std::vector<evtchn_port_t>(kNumVirqs, 0));
    for (auto& per_vcpu : virqs)
        for (evtchn_port_t& port : per_vcpu) port = r.bounded(r.u32(), m_max_ports - 1, "a VIRQ's port");
    // Links between the tables, which the hypercalls index without further checks, both ways:
    // close(), bind_vcpu() and backend_close() change the end they are given and the one it names.
    for (evtchn_port_t p = 1; p < m_max_ports && r.ok(); ++p) {
        const Channel& ch = ports[p];
        if (ch.state == State::Virq && virqs[ch.notify_vcpu][ch.virq] != p)
            r.invalid("port {} is bound to VIRQ {} on vCPU {}, which the VIRQ table does not name", p, ch.virq,
                      ch.notify_vcpu);
        if (ch.state != State::Interdomain) continue;
        const bool local = ch.remote_dom == m_domid;
        const Channel* peer = local && ch.remote_port < m_max_ports ? &ports[ch.remote_port] : nullptr;
        if ((local && (!peer || peer->state != State::Interdomain || peer->remote_dom != m_domid ||
                       peer->remote_port != p)) ||
            (!local && (ch.remote_port == 0 || ch.remote_port >= backends.size() ||
                        backends[ch.remote_port].guest_port != p)))
            r.invalid("interdomain port {} names peer port {} that does not lead back", p, ch.remote_port);
    }
    for (size_t b = 0; b < backends.size() && r.ok(); ++b) {
        const evtchn_port_t g = backends[b].guest_port;
        if (g == 0) continue;
        const Channel& ch = ports[g];
        if (b == 0 || ch.state != State::Interdomain || ch.remote_dom == m_domid || ch.remote_port != b)
            r.invalid("dom0 port {} names guest port {} that does not lead back", b, g);
    }
    for (size_t v = 0; v < virqs.size() && r.ok(); ++v)
        for (uint32_t q = 0; q < kNumVirqs && r.ok(); ++q) {
            const evtchn_port_t port = virqs[v][q];
            const Channel& ch = ports[port];
            if (port != 0 && (ch.state != State::Virq || ch.virq != q || ch.notify_vcpu != v))
                r.invalid("VIRQ {} of vCPU {} names port {}, which is not bound to it", q, v, port);
        }
    if (!r.ok()) return;
    m_shared = shared;
    m_shared_gpa = shared_gpa;
    m_vcpu_info = std::move(infos);
    m_vcpu_info_gpa = std::move(gpas);
    m_ports = std::move(ports);
    m_backend_domains = std::move(domains);
    m_backends = std::move(backends);
    m_virqs = std::move(virqs);
}

PvResult<void> EventChannels::rebind_backend(evtchn_port_t backend_port, Notify notify) {
    std::lock_guard lock(m_lock);
    if (backend_port == 0 || backend_port >= m_backends.size() || m_backends[backend_port].guest_port == 0)
        return pv_error(EINVAL);
    m_backends[backend_port].notify = std::move(notify);
    return {};
}

}  // namespace popek::pv
