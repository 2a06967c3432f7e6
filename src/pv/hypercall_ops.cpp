// memory_op, hvm_op, event_channel_op and grant_table_op (memory.h, hvm/hvm_op.h,
// event_channel.h, grant_table.h): decode the guest's argument structs and call PvDomain's parts.
#include <algorithm>
#include <vector>

#include "pv/hypercalls.h"
#include "pv/xen_compat.h"

namespace popek::pv {

namespace {

bool is_self(const PvDomain& d, DomId dom) { return dom == DOMID_SELF || dom == d.domid(); }

}  // namespace

PvResult<xen_add_to_physmap_t> Hypercalls::read_add_to_physmap(int vcpu, uint64_t arg, bool compat) {
    if (!compat) return m_guest.read_obj<xen_add_to_physmap_t>(vcpu, arg);
    compat::AddToPhysmap c = TRY(m_guest.read_obj<compat::AddToPhysmap>(vcpu, arg));
    xen_add_to_physmap_t x{};
    x.domid = c.domid;
    x.size = c.size;
    x.space = c.space;
    x.idx = c.idx;
    x.gpfn = c.gpfn;
    return x;
}

Hypercalls::Ret Hypercalls::memory_op(int vcpu, uint64_t cmd, uint64_t arg, bool compat) {
    switch (cmd) {
    case XENMEM_add_to_physmap: {
        auto x = read_add_to_physmap(vcpu, arg, compat);
        if (!x) return -x.error();
        if (!is_self(m_domain, x->domid)) return -EPERM;
        PvResult<void> r;
        switch (x->space) {
        case XENMAPSPACE_shared_info:
            if (x->idx != 0) return -EINVAL;
            if (x->gpfn > (~uint64_t{0} >> XEN_PAGE_SHIFT)) return -EINVAL;
            r = m_domain.event_channels().place_shared_info(x->gpfn << XEN_PAGE_SHIFT);
            break;
        case XENMAPSPACE_grant_table: r = place_grant_frame(x->idx, x->gpfn); break;
        case XENMAPSPACE_gmfn:
        case XENMAPSPACE_gmfn_range: return -ENOSYS;  // guest RAM is not remapped by popek
        default: return -EINVAL;
        }
        return r ? 0 : -r.error();
    }
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation: {
        auto dom = m_guest.read_obj<domid_t>(vcpu, arg);
        if (!dom) return -dom.error();
        if (!is_self(m_domain, *dom)) return -EPERM;
        return static_cast<Ret>(cmd == XENMEM_current_reservation ? m_balloon.current_pages() : m_balloon.max_pages());
    }
    case XENMEM_increase_reservation:
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap: return memory_reservation(vcpu, cmd, arg, compat);
    default: return -ENOSYS;
    }
}

Hypercalls::Ret Hypercalls::memory_reservation(int vcpu, uint64_t cmd, uint64_t arg, bool compat) {
    uint64_t list = 0, count = 0;
    uint32_t order = 0;
    domid_t dom = 0;
    if (compat) {
        auto r = m_guest.read_obj<compat::MemoryReservation>(vcpu, arg);
        if (!r) return -r.error();
        list = r->extent_start, count = r->nr_extents, order = r->extent_order, dom = r->domid;
    } else {
        auto r = m_guest.read_obj<xen_memory_reservation_t>(vcpu, arg);
        if (!r) return -r.error();
        list = reinterpret_cast<uint64_t>(r->extent_start.p);
        count = r->nr_extents, order = r->extent_order, dom = r->domid;
    }
    if (!is_self(m_domain, dom)) return -EPERM;
    if (order != 0) return 0;   // 4 KiB extents only: none done
    const unsigned width = compat ? 4 : 8;   // xen_pfn_t
    const uint64_t todo = std::min(count, kMaxReservationBatch);
    for (uint64_t i = 0; i < todo; ++i) {
        const uint64_t at = list + i * width;
        if (cmd == XENMEM_increase_reservation) {
            // OUT: the frames handed back to the guest (popek's frame numbers are its gfns).
            auto gfn = m_balloon.take_any();
            if (!gfn) return static_cast<Ret>(i);
            auto w = compat ? m_guest.write_obj(vcpu, at, static_cast<uint32_t>(*gfn)) : m_guest.write_obj(vcpu, at, *gfn);
            if (!w) {
                (void)m_balloon.give_back(*gfn);
                return i ? static_cast<Ret>(i) : -w.error();
            }
            continue;
        }
        uint64_t gfn = 0;
        if (compat) {
            auto f = m_guest.read_obj<uint32_t>(vcpu, at);
            if (!f) return i ? static_cast<Ret>(i) : -f.error();
            gfn = *f;
        } else {
            auto f = m_guest.read_obj<uint64_t>(vcpu, at);
            if (!f) return i ? static_cast<Ret>(i) : -f.error();
            gfn = *f;
        }
        const bool done = cmd == XENMEM_decrease_reservation ? m_balloon.give_back(gfn) : m_balloon.repopulate(gfn);
        if (!done) return static_cast<Ret>(i);
    }
    return static_cast<Ret>(todo);
}

PvResult<void> Hypercalls::place_grant_frame(uint64_t idx, uint64_t gpfn) {
    GrantTable& gt = m_domain.grant_table();
    if (gpfn > (~uint64_t{0} >> XEN_PAGE_SHIFT)) return pv_error(EINVAL);
    if (m_domain.memory().slice(gpfn << XEN_PAGE_SHIFT, kXenPageSize) || !m_hooks.map_outside_ram)
        return gt.place_frame(idx, gpfn);
    std::span<uint8_t> page = TRY(gt.place_frame_in_host(idx));
    if (!m_hooks.map_outside_ram(gpfn, page)) return pv_error(EINVAL);
    return {};
}

Hypercalls::Ret Hypercalls::hvm_op(int vcpu, uint64_t op, uint64_t arg) {
    if (op == HVMOP_set_evtchn_upcall_vector) {
        auto v = m_guest.read_obj<xen_hvm_evtchn_upcall_vector_t>(vcpu, arg);
        if (!v) return -v.error();
        auto r = m_domain.set_upcall_vector(v->vcpu, v->vector);
        return r ? 0 : -r.error();
    }
    if (op != HVMOP_set_param && op != HVMOP_get_param) return -ENOSYS;
    return in_out<xen_hvm_param_t>(vcpu, arg, [&](xen_hvm_param_t& p) -> PvResult<void> {
        if (!is_self(m_domain, p.domid)) return pv_error(EPERM);
        if (op == HVMOP_set_param) return m_domain.guest_set_param(p.index, p.value);
        p.value = TRY(m_domain.get_param(p.index));
        return {};
    });
}

Hypercalls::Ret Hypercalls::event_channel_op(int vcpu, uint64_t cmd, uint64_t arg) {
    EventChannels& ev = m_domain.event_channels();
    switch (cmd) {
    case EVTCHNOP_alloc_unbound:
        return in_out<evtchn_alloc_unbound_t>(vcpu, arg, [&](auto& op) { return ev.alloc_unbound(op); });
    case EVTCHNOP_bind_interdomain:
        return in_out<evtchn_bind_interdomain_t>(vcpu, arg, [&](auto& op) { return ev.bind_interdomain(op); });
    case EVTCHNOP_bind_virq:
        return in_out<evtchn_bind_virq_t>(vcpu, arg, [&](auto& op) { return ev.bind_virq(op); });
    case EVTCHNOP_bind_ipi:
        return in_out<evtchn_bind_ipi_t>(vcpu, arg, [&](auto& op) { return ev.bind_ipi(op); });
    case EVTCHNOP_status:
        return in_out<evtchn_status_t>(vcpu, arg, [&](auto& op) { return ev.status(op); });
    case EVTCHNOP_close:
        return in_out<evtchn_close_t>(vcpu, arg, [&](auto& op) { return ev.close(op.port); });
    case EVTCHNOP_send:
        return in_out<evtchn_send_t>(vcpu, arg, [&](auto& op) { return ev.send(op.port); });
    case EVTCHNOP_unmask:
        return in_out<evtchn_unmask_t>(vcpu, arg, [&](auto& op) { return ev.unmask(op.port); });
    case EVTCHNOP_bind_vcpu:
        return in_out<evtchn_bind_vcpu_t>(vcpu, arg, [&](auto& op) { return ev.bind_vcpu(op); });
    case EVTCHNOP_init_control: return fifo_init_control(vcpu, arg);
    default: return -ENOSYS;  // the rest of the FIFO ABI (expand_array, set_priority) included
    }
}

Hypercalls::Ret Hypercalls::fifo_init_control(int vcpu, uint64_t arg) {
    // FIFO event channels are not offered: the guest stays on the 2-level ABI (Linux falls back
    // on any error). The arguments are checked first as Xen's evtchn_fifo_init_control does
    // (common/event_fifo.c; XTF xsa-188 wants -EINVAL for a bad frame), so only a call Xen would
    // have accepted gets -ENOSYS.
    auto op = m_guest.read_obj<evtchn_init_control_t>(vcpu, arg);
    if (!op) return -op.error();
    if (op->vcpu >= static_cast<uint32_t>(m_domain.config().vcpus)) return -ENOENT;
    if (op->offset > kXenPageSize - sizeof(evtchn_fifo_control_block_t) || (op->offset & 7) != 0) return -EINVAL;
    if (op->control_gfn > (~uint64_t{0} >> XEN_PAGE_SHIFT) ||
        !m_domain.memory().slice(op->control_gfn << XEN_PAGE_SHIFT, kXenPageSize))
        return -EINVAL;   // not a RAM frame of the guest
    return -ENOSYS;
}

Hypercalls::Ret Hypercalls::setup_table(int vcpu, uint64_t uop, bool compat) {
    // Both layouts carry the same fields; the compat one has a 32-bit list of 32-bit frames.
    gnttab_setup_table_t op{};
    compat::GnttabSetupTable c32{};
    uint64_t list = 0;
    if (compat) {
        auto c = m_guest.read_obj<compat::GnttabSetupTable>(vcpu, uop);
        if (!c) return -c.error();
        c32 = *c;
        op.dom = c32.dom, op.nr_frames = c32.nr_frames, list = c32.frame_list;
    } else {
        auto n = m_guest.read_obj<gnttab_setup_table_t>(vcpu, uop);
        if (!n) return -n.error();
        op = *n;
        list = reinterpret_cast<uint64_t>(n->frame_list.p);
    }
    GrantTable& gt = m_domain.grant_table();
    if (!is_self(m_domain, op.dom)) {
        op.status = GNTST_bad_domain;
    } else if (auto frames = gt.setup_table(op.nr_frames); !frames) {
        op.status = frames.error();
    } else {
        std::vector<uint8_t> bytes;
        for (xen_pfn_t f : *frames)
            for (size_t i = 0; i < (compat ? sizeof(uint32_t) : sizeof(xen_pfn_t)); ++i)
                bytes.push_back(static_cast<uint8_t>(f >> (8 * i)));
        auto w = m_guest.write(vcpu, list, bytes);
        if (!w) return -w.error();
        op.status = GNTST_okay;
    }
    c32.status = op.status;
    auto w = compat ? m_guest.write_obj(vcpu, uop, c32) : m_guest.write_obj(vcpu, uop, op);
    return w ? 0 : -w.error();
}

Hypercalls::Ret Hypercalls::get_status_frames(int vcpu, uint64_t uop, bool compat) {
    compat::GnttabGetStatusFrames op{};
    uint64_t list = 0;
    if (compat) {
        auto c = m_guest.read_obj<compat::GnttabGetStatusFrames>(vcpu, uop);
        if (!c) return -c.error();
        op = *c;
        list = c->frame_list;
    } else {
        auto n = m_guest.read_obj<gnttab_get_status_frames_t>(vcpu, uop);
        if (!n) return -n.error();
        op = {n->nr_frames, n->dom, n->status, 0};
        list = reinterpret_cast<uint64_t>(n->frame_list.p);
    }
    if (!is_self(m_domain, op.dom)) {
        op.status = GNTST_bad_domain;
    } else if (auto frames = m_domain.grant_table().status_frames(op.nr_frames); !frames) {
        op.status = frames.error();   // more than the table has (all of v1's): general error
    } else {
        auto w = m_guest.write(vcpu, list, std::span(reinterpret_cast<const uint8_t*>(frames->data()),
                                                     frames->size() * sizeof(uint64_t)));
        if (!w) return -w.error();
        op.status = GNTST_okay;
    }
    // Only `status` is an OUT field: written at its offset, the same in both layouts.
    static_assert(offsetof(gnttab_get_status_frames_t, status) == offsetof(compat::GnttabGetStatusFrames, status));
    auto w = m_guest.write_obj(vcpu, uop + offsetof(gnttab_get_status_frames_t, status), op.status);
    return w ? 0 : -w.error();
}

Hypercalls::Ret Hypercalls::grant_table_op(int vcpu, uint64_t cmd, uint64_t uop, uint64_t count, bool compat) {
    GrantTable& gt = m_domain.grant_table();
    switch (cmd) {
    case GNTTABOP_query_size:
        if (count != 1) return -EINVAL;
        return in_out<gnttab_query_size_t>(vcpu, uop, [&](auto& op) -> PvResult<void> {
            gt.query_size(op);
            return {};
        });
    case GNTTABOP_setup_table:
        if (count != 1) return -EINVAL;
        return setup_table(vcpu, uop, compat);
    case GNTTABOP_copy: {
        // The compat gnttab_copy (32-bit xen_pfn_t in each side) is not translated: a 32-bit
        // guest gets -ENOSYS rather than a copy of the wrong bytes.
        if (compat) return -ENOSYS;
        if (count > kMaxCopyBatch) return -EINVAL;
        for (uint64_t i = 0; i < count; ++i) {
            uint64_t at = uop + i * sizeof(gnttab_copy_t);
            Ret r = in_out<gnttab_copy_t>(vcpu, at, [&](auto& op) -> PvResult<void> {
                gt.copy(op);
                return {};
            });
            if (r != 0) return r;
        }
        return 0;
    }
    case GNTTABOP_get_version: {
        if (count != 1) return -EINVAL;
        return in_out<gnttab_get_version_t>(vcpu, uop, [&](auto& op) -> PvResult<void> {
            if (!is_self(m_domain, op.dom)) return pv_error(EPERM);
            op.version = gt.version();
            return {};
        });
    }
    case GNTTABOP_set_version: {
        // IN/OUT: the version in use afterwards goes back to the guest even on error (Xen).
        if (count != 1) return -EINVAL;
        auto op = m_guest.read_obj<gnttab_set_version_t>(vcpu, uop);
        if (!op) return -op.error();
        const GrantTable::VersionResult r = gt.set_version(op->version);
        op->version = r.version;
        auto w = m_guest.write_obj(vcpu, uop, *op);
        if (!w) return -w.error();
        return r.error ? -r.error : 0;
    }
    case GNTTABOP_get_status_frames:
        if (count != 1) return -EINVAL;
        return get_status_frames(vcpu, uop, compat);
    default:
        // map/unmap are for backend domains; popek's backends call GrantTable directly.
        return -ENOSYS;
    }
}

}  // namespace popek::pv
