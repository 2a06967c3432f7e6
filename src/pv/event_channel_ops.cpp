// EVTCHNOP_* semantics (xen/event_channel.h; errors as Xen's common/event_channel.c returns them)
// and the control domain's end of interdomain channels.
#include "pv/event_channels.h"

#include <algorithm>
#include <atomic>

namespace popek::pv {

namespace {

/// VIRQs bound per vCPU ("V." in xen.h); all others are global and bound on vCPU 0.
bool virq_is_per_vcpu(uint32_t virq) {
    return virq == VIRQ_TIMER || virq == VIRQ_DEBUG || virq == VIRQ_XENOPROF || virq == VIRQ_XENPMU;
}

}  // namespace

PvResult<void> EventChannels::alloc_unbound(evtchn_alloc_unbound& op) {
    if (!is_self(op.dom)) return pv_error(EPERM);
    DomId remote = is_self(op.remote_dom) ? m_domid : op.remote_dom;
    std::lock_guard lock(m_lock);
    if (remote != m_domid && !is_backend_domain(remote)) return pv_error(ESRCH);
    op.port = TRY(allocate(Channel{State::Unbound, 0, remote, 0, 0}));
    return {};
}

PvResult<void> EventChannels::bind_interdomain(evtchn_bind_interdomain& op) {
    // Loopback within the guest only: dom0's backends bind to the guest, never the other way.
    if (op.remote_dom == kControlDomain && !is_self(op.remote_dom)) return pv_error(EINVAL);
    if (!is_self(op.remote_dom)) return pv_error(ESRCH);
    std::optional<int> vcpu;
    {
        std::lock_guard lock(m_lock);
        Channel* remote = bound(op.remote_port);
        if (remote == nullptr || remote->state != State::Unbound || remote->remote_dom != m_domid)
            return pv_error(EINVAL);
        evtchn_port_t local = TRY(allocate(Channel{State::Interdomain, 0, m_domid, op.remote_port, 0}));
        Channel& r = m_ports[op.remote_port];
        r.state = State::Interdomain;
        r.remote_port = local;
        op.local_port = local;
        // Notifications sent to the unbound port were lost: Xen raises the new port once.
        vcpu = set_pending(local);
    }
    upcall(vcpu);
    return {};
}

PvResult<void> EventChannels::bind_virq(evtchn_bind_virq& op) {
    if (op.virq >= kNumVirqs) return pv_error(EINVAL);
    if (!valid_vcpu(op.vcpu)) return pv_error(ENOENT);
    if (!virq_is_per_vcpu(op.virq) && op.vcpu != 0) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    evtchn_port_t& slot = m_virqs[op.vcpu][op.virq];
    if (slot != 0) return pv_error(EEXIST);
    op.port = TRY(allocate(Channel{State::Virq, op.vcpu, m_domid, 0, op.virq}));
    slot = op.port;
    return {};
}

PvResult<void> EventChannels::bind_ipi(evtchn_bind_ipi& op) {
    if (!valid_vcpu(op.vcpu)) return pv_error(ENOENT);
    std::lock_guard lock(m_lock);
    op.port = TRY(allocate(Channel{State::Ipi, op.vcpu, m_domid, 0, 0}));
    return {};
}

PvResult<void> EventChannels::close(evtchn_port_t port) {
    std::lock_guard lock(m_lock);
    Channel* ch = bound(port);
    if (ch == nullptr) return pv_error(EINVAL);
    if (ch->state == State::Virq) m_virqs[ch->notify_vcpu][ch->virq] = 0;
    if (ch->state == State::Interdomain) {
        if (ch->remote_dom != m_domid) {  // a back end popek holds (dom0 or a driver domain)
            m_backends[ch->remote_port] = BackendEnd{};
        } else {
            // The loopback peer goes back to waiting for a connection.
            Channel& peer = m_ports[ch->remote_port];
            peer.state = State::Unbound;
            peer.remote_port = 0;
        }
    }
    free_port(port);
    return {};
}

PvResult<void> EventChannels::send(evtchn_port_t port) {
    std::optional<int> vcpu;
    Notify notify;
    {
        std::lock_guard lock(m_lock);
        Channel* ch = bound(port);
        if (ch == nullptr) return pv_error(EINVAL);
        switch (ch->state) {
        case State::Interdomain:
            if (ch->remote_dom != m_domid)  // a back end popek holds (dom0 or a driver domain)
                notify = m_backends[ch->remote_port].notify;
            else
                vcpu = set_pending(ch->remote_port);
            break;
        case State::Ipi: vcpu = set_pending(port); break;
        case State::Unbound: break;  // nobody listens yet: dropped, as in Xen
        default: return pv_error(EINVAL);
        }
    }
    upcall(vcpu);
    if (notify) notify();
    return {};
}

PvResult<void> EventChannels::status(evtchn_status& op) {
    if (!is_self(op.dom)) return pv_error(EPERM);
    if (op.port >= m_max_ports) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    const Channel& ch = m_ports[op.port];
    op.vcpu = ch.notify_vcpu;
    op.u = {};
    switch (ch.state) {
    case State::Free:
    case State::Reserved: op.status = EVTCHNSTAT_closed; break;
    case State::Unbound:
        op.status = EVTCHNSTAT_unbound;
        op.u.unbound.dom = ch.remote_dom;
        break;
    case State::Interdomain:
        op.status = EVTCHNSTAT_interdomain;
        op.u.interdomain.dom = ch.remote_dom;
        op.u.interdomain.port = ch.remote_port;
        break;
    case State::Virq:
        op.status = EVTCHNSTAT_virq;
        op.u.virq = ch.virq;
        break;
    case State::Ipi: op.status = EVTCHNSTAT_ipi; break;
    }
    return {};
}

PvResult<void> EventChannels::bind_vcpu(const evtchn_bind_vcpu& op) {
    if (!valid_vcpu(op.vcpu)) return pv_error(ENOENT);
    std::lock_guard lock(m_lock);
    Channel* ch = bound(op.port);
    if (ch == nullptr) return pv_error(EINVAL);
    if (ch->state == State::Ipi || (ch->state == State::Virq && virq_is_per_vcpu(ch->virq)))
        return pv_error(EINVAL);
    if (ch->state == State::Virq) {
        m_virqs[ch->notify_vcpu][ch->virq] = 0;
        m_virqs[op.vcpu][ch->virq] = op.port;
    }
    ch->notify_vcpu = op.vcpu;
    return {};
}

PvResult<void> EventChannels::unmask(evtchn_port_t port) {
    if (port >= m_max_ports) return pv_error(EINVAL);
    std::optional<int> vcpu;
    {
        std::lock_guard lock(m_lock);
        xen_ulong_t bit = xen_ulong_t{1} << (port % (sizeof(xen_ulong_t) * 8));
        auto word = port / (sizeof(xen_ulong_t) * 8);
        bool was_masked = std::atomic_ref<xen_ulong_t>(mask_words()[word]).fetch_and(~bit) & bit;
        if (was_masked) wrote(&mask_words()[word], sizeof(xen_ulong_t));
        bool pending = std::atomic_ref<xen_ulong_t>(pending_words()[word]).load() & bit;
        // A port that became pending while masked reaches its vCPU now.
        if (was_masked && pending) vcpu = mark_vcpu(m_ports[port].notify_vcpu, port);
    }
    upcall(vcpu);
    return {};
}

// ---------------------------------------------------------------- control domain

PvResult<evtchn_port_t> EventChannels::backend_bind(evtchn_port_t guest_port, Notify notify, DomId backend) {
    std::lock_guard lock(m_lock);
    Channel* ch = bound(guest_port);
    if (ch == nullptr || ch->state != State::Unbound || ch->remote_dom != backend)
        return pv_error(EINVAL);
    evtchn_port_t slot = 1;
    while (slot < m_backends.size() && m_backends[slot].guest_port != 0) ++slot;
    if (slot >= m_max_ports) return pv_error(ENOSPC);
    if (slot == m_backends.size()) m_backends.emplace_back();
    m_backends[slot] = BackendEnd{guest_port, std::move(notify)};
    ch->state = State::Interdomain;
    ch->remote_port = slot;
    return slot;
}

void EventChannels::add_backend_domain(DomId backend) {
    std::lock_guard lock(m_lock);
    if (!is_backend_domain(backend)) m_backend_domains.push_back(backend);
}

bool EventChannels::is_backend_domain(DomId dom) const {
    return std::find(m_backend_domains.begin(), m_backend_domains.end(), dom) != m_backend_domains.end();
}

PvResult<EventChannels::HostChannel> EventChannels::host_channel(Notify notify) {
    evtchn_alloc_unbound op{DOMID_SELF, kControlDomain, 0};
    TRY_VOID(alloc_unbound(op));
    auto backend = backend_bind(op.port, std::move(notify));
    if (!backend) {
        (void)close(op.port);
        return pv_error(backend.error());
    }
    return HostChannel{op.port, *backend};
}

PvResult<void> EventChannels::backend_close(evtchn_port_t backend_port) {
    std::lock_guard lock(m_lock);
    if (backend_port == 0 || backend_port >= m_backends.size() || m_backends[backend_port].guest_port == 0)
        return pv_error(EINVAL);
    Channel& guest = m_ports[m_backends[backend_port].guest_port];
    guest.state = State::Unbound;
    guest.remote_port = 0;
    m_backends[backend_port] = BackendEnd{};
    return {};
}

PvResult<void> EventChannels::backend_send(evtchn_port_t backend_port) {
    std::optional<int> vcpu;
    {
        std::lock_guard lock(m_lock);
        if (backend_port == 0 || backend_port >= m_backends.size() || m_backends[backend_port].guest_port == 0)
            return pv_error(EINVAL);
        vcpu = set_pending(m_backends[backend_port].guest_port);
    }
    upcall(vcpu);
    return {};
}

bool EventChannels::raise_virq(uint32_t virq, int vcpu) {
    if (virq >= kNumVirqs || vcpu < 0 || !valid_vcpu(static_cast<uint32_t>(vcpu))) return false;
    std::optional<int> target;
    {
        std::lock_guard lock(m_lock);
        evtchn_port_t port = m_virqs[virq_is_per_vcpu(virq) ? static_cast<uint32_t>(vcpu) : 0][virq];
        if (port == 0) {
            // A global VIRQ moved by bind_vcpu lives in another vCPU's row.
            for (auto& row : m_virqs)
                if (!virq_is_per_vcpu(virq) && row[virq] != 0) port = row[virq];
        }
        if (port == 0) return false;
        target = set_pending(port);
    }
    upcall(target);
    return true;
}

}  // namespace popek::pv
