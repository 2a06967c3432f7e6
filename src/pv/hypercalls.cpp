// Dispatch and the scheduling, time, console, version and vCPU hypercalls (xen.h, sched.h,
// vcpu.h, version.h). Memory, HVM, event channel and grant table calls are in hypercall_ops.cpp.
#include "pv/hypercalls.h"
#include "pv/xen_compat.h"
#include "hv/xen/xen_personality.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace popek::pv {

namespace {


template <size_t N>
void copy_string(char (&dest)[N], std::string_view s) {
    std::memset(dest, 0, N);
    std::memcpy(dest, s.data(), std::min(s.size(), N - 1));
}

}  // namespace

Hypercalls::Hypercalls(PvDomain& domain, GuestAccess::Translate translate, HypercallHooks hooks)
    : m_domain(domain),
      m_guest(domain.memory(), std::move(translate), &domain.ram_writes()),
      m_hooks(std::move(hooks)),
      m_vcpu_up(std::make_unique<std::atomic<bool>[]>(static_cast<size_t>(domain.config().vcpus))),
      m_vcpu_context(static_cast<size_t>(std::max(domain.config().vcpus, 0))),
      m_balloon(domain.memory(), domain.config().memory_bytes / kXenPageSize, &domain.ram_writes()) {
    if (domain.config().vcpus > 0) m_vcpu_up[0] = true;
}

void Hypercalls::set_vcpu_up(int vcpu, bool up) {
    if (vcpu >= 0 && vcpu < m_domain.config().vcpus) m_vcpu_up[static_cast<size_t>(vcpu)] = up;
}

uint64_t Hypercalls::handle(int vcpu, const hv::Hypercall& call) {
    const uint64_t* a = call.args;
    if (vcpu < 0 || vcpu >= m_domain.config().vcpus) return hypercall_error(EINVAL);
    Ret r;
    switch (call.nr) {
    case __HYPERVISOR_xen_version: r = xen_version(vcpu, a[0], a[1], call.compat); break;
    case __HYPERVISOR_console_io: r = console_io(vcpu, a[0], a[1], a[2]); break;
    case __HYPERVISOR_sched_op: r = sched_op(vcpu, a[0], a[1], call.compat); break;
    case __HYPERVISOR_set_timer_op: r = set_timer_op(vcpu, a[0]); break;
    case __HYPERVISOR_vcpu_op: r = vcpu_op(vcpu, a[0], a[1], a[2], call.compat); break;
    case __HYPERVISOR_memory_op: r = memory_op(vcpu, a[0], a[1], call.compat); break;
    case __HYPERVISOR_hvm_op: r = hvm_op(vcpu, a[0], a[1]); break;
    case __HYPERVISOR_event_channel_op: r = event_channel_op(vcpu, a[0], a[1]); break;
    case __HYPERVISOR_grant_table_op: r = grant_table_op(vcpu, a[0], a[1], a[2], call.compat); break;
    default: r = -ENOSYS; break;
    }
    if (m_hooks.trace) m_hooks.trace(vcpu, call, r);
    return static_cast<uint64_t>(r);
}

Hypercalls::Ret Hypercalls::xen_version(int vcpu, uint64_t cmd, uint64_t arg, bool compat) {
    switch (cmd) {
    case XENVER_version: return static_cast<Ret>(hv::xen::kXenMajor << 16 | hv::xen::kXenMinor);
    case XENVER_extraversion: {
        xen_extraversion_t v;
        copy_string(v, ".0-popek");
        auto w = m_guest.write(vcpu, arg, std::span(reinterpret_cast<const uint8_t*>(v), sizeof(v)));
        return w ? 0 : -w.error();
    }
    case XENVER_capabilities: {
        xen_capabilities_info_t v;
        copy_string(v, "hvm-3.0-x86_64");
        auto w = m_guest.write(vcpu, arg, std::span(reinterpret_cast<const uint8_t*>(v), sizeof(v)));
        return w ? 0 : -w.error();
    }
    case XENVER_changeset: {
        xen_changeset_info_t v;
        copy_string(v, "popek");
        auto w = m_guest.write(vcpu, arg, std::span(reinterpret_cast<const uint8_t*>(v), sizeof(v)));
        return w ? 0 : -w.error();
    }
    case XENVER_compile_info: {
        xen_compile_info_t v{};
        copy_string(v.compiler, "g++");
        copy_string(v.compile_by, "popek");
        copy_string(v.compile_domain, "popek");
        copy_string(v.compile_date, __DATE__);
        auto w = m_guest.write_obj(vcpu, arg, v);
        return w ? 0 : -w.error();
    }
    case XENVER_platform_parameters: {
        // No hypervisor hole in a PVH guest's address space: virt_start 0, in the caller's width.
        auto w = compat ? m_guest.write_obj(vcpu, arg, compat::PlatformParameters{})
                        : m_guest.write_obj(vcpu, arg, xen_platform_parameters_t{});
        return w ? 0 : -w.error();
    }
    case XENVER_get_features:
        return in_out<xen_feature_info_t>(vcpu, arg, [](xen_feature_info_t& fi) -> PvResult<void> {
            if (fi.submap_idx >= XENFEAT_NR_SUBMAPS) return pv_error(EINVAL);
            // What Xen reports to a translated (HVM/PVH) guest with a callback vector.
            fi.submap = 1u << XENFEAT_writable_page_tables | 1u << XENFEAT_auto_translated_physmap |
                        1u << XENFEAT_hvm_callback_vector | 1u << XENFEAT_hvm_safe_pvclock;
            return {};
        });
    case XENVER_pagesize: return static_cast<Ret>(kXenPageSize);
    case XENVER_guest_handle: {
        xen_domain_handle_t h{};
        h[15] = static_cast<uint8_t>(m_domain.domid());
        auto w = m_guest.write(vcpu, arg, std::span(reinterpret_cast<const uint8_t*>(h), sizeof(h)));
        return w ? 0 : -w.error();
    }
    case XENVER_commandline: {
        xen_commandline_t v{};
        auto w = m_guest.write(vcpu, arg, std::span(reinterpret_cast<const uint8_t*>(v), sizeof(v)));
        return w ? 0 : -w.error();
    }
    case XENVER_build_id: return -EPERM;  // privileged in Xen too
    default: return -ENOSYS;
    }
}

Hypercalls::Ret Hypercalls::console_io(int vcpu, uint64_t cmd, uint64_t count, uint64_t buf) {
    switch (cmd) {
    case CONSOLEIO_write: {
        if (count > kMaxConsoleWrite) return -EINVAL;
        std::vector<uint8_t> bytes(count);
        auto r = m_guest.read(vcpu, buf, bytes);
        if (!r) return -r.error();
        if (m_hooks.console_write)
            m_hooks.console_write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        return 0;
    }
    case CONSOLEIO_read: return 0;  // the Xen console takes no input from a domU
    default: return -ENOSYS;
    }
}

Hypercalls::Ret Hypercalls::sched_op(int vcpu, uint64_t cmd, uint64_t arg, bool compat) {
    switch (cmd) {
    case SCHEDOP_yield:
        if (m_hooks.yield) m_hooks.yield(vcpu);
        return 0;
    case SCHEDOP_block:
        if (!m_domain.event_channels().upcall_pending(vcpu) && m_hooks.block) m_hooks.block(vcpu);
        return 0;
    case SCHEDOP_shutdown: {
        auto s = m_guest.read_obj<sched_shutdown_t>(vcpu, arg);
        if (!s) return -s.error();
        if (s->reason > SHUTDOWN_MAX) return -EINVAL;
        if (s->reason == SHUTDOWN_suspend) return -ENOSYS;  // no save/restore
        if (m_hooks.shutdown) m_hooks.shutdown(s->reason);
        return 0;
    }
    case SCHEDOP_poll: {
        uint64_t list = 0, timeout = 0;
        uint32_t nr_ports = 0;
        if (compat) {
            auto c = m_guest.read_obj<compat::SchedPoll>(vcpu, arg);
            if (!c) return -c.error();
            list = c->ports, nr_ports = c->nr_ports, timeout = c->timeout;
        } else {
            auto n = m_guest.read_obj<sched_poll_t>(vcpu, arg);
            if (!n) return -n.error();
            list = reinterpret_cast<uint64_t>(n->ports.p), nr_ports = n->nr_ports, timeout = n->timeout;
        }
        if (nr_ports > kMaxPollPorts) return -EINVAL;
        std::vector<evtchn_port_t> ports(nr_ports);
        auto r = m_guest.read(vcpu, list,
                              std::span(reinterpret_cast<uint8_t*>(ports.data()), ports.size() * sizeof(evtchn_port_t)));
        if (!r) return -r.error();
        EventChannels& ev = m_domain.event_channels();
        for (evtchn_port_t port : ports) {
            if (port >= ev.max_ports()) return -EINVAL;
            if (ev.port_pending(port)) return 0;
        }
        if (m_hooks.poll) m_hooks.poll(vcpu, ports, timeout);
        return 0;
    }
    default: return -ENOSYS;
    }
}

Hypercalls::Ret Hypercalls::set_timer_op(int vcpu, uint64_t deadline_ns) {
    if (m_hooks.set_timer) m_hooks.set_timer(vcpu, deadline_ns);
    return 0;
}

Hypercalls::Ret Hypercalls::vcpu_op(int vcpu, uint64_t cmd, uint64_t target, uint64_t arg, bool compat) {
    if (target >= static_cast<uint64_t>(m_domain.config().vcpus)) return -ENOENT;
    const int t = static_cast<int>(target);
    switch (cmd) {
    case VCPUOP_is_up: return m_vcpu_up[target] ? 1 : 0;
    case VCPUOP_initialise: return vcpu_initialise(vcpu, t, arg);
    case VCPUOP_up: return vcpu_up(t);
    case VCPUOP_register_vcpu_info: {
        auto info = m_guest.read_obj<vcpu_register_vcpu_info_t>(vcpu, arg);
        if (!info) return -info.error();
        if (info->rsvd != 0 || info->offset > kXenPageSize - sizeof(vcpu_info)) return -EINVAL;
        if (info->mfn > (~uint64_t{0} >> XEN_PAGE_SHIFT)) return -EINVAL;
        auto r = m_domain.event_channels().place_vcpu_info(t, (info->mfn << XEN_PAGE_SHIFT) + info->offset);
        return r ? 0 : -r.error();
    }
    case VCPUOP_set_singleshot_timer: {
        if (t != vcpu) return -EINVAL;  // only for the calling vCPU, as Xen
        auto s = m_guest.read_obj<vcpu_set_singleshot_timer_t>(vcpu, arg);
        if (!s) return -s.error();
        uint64_t now = m_hooks.now_ns ? m_hooks.now_ns() : 0;
        if ((s->flags & VCPU_SSHOTTMR_future) && s->timeout_abs_ns < now) return -ETIME;
        if (m_hooks.set_timer) m_hooks.set_timer(vcpu, s->timeout_abs_ns);
        return 0;
    }
    case VCPUOP_stop_singleshot_timer:
        if (t != vcpu) return -EINVAL;
        if (m_hooks.set_timer) m_hooks.set_timer(vcpu, 0);
        return 0;
    case VCPUOP_stop_periodic_timer: return 0;  // popek never starts one
    case VCPUOP_register_runstate_memory_area: {
        // Linux insists on this. popek reports the vCPU as always running (no steal time).
        auto area = m_guest.read_obj<vcpu_register_runstate_memory_area_t>(vcpu, arg);
        if (!area) return -area.error();
        vcpu_runstate_info_t info{};
        info.state = RUNSTATE_running;
        info.state_entry_time = m_hooks.now_ns ? m_hooks.now_ns() : 0;
        auto w = compat ? m_guest.write_obj(vcpu, area->addr.p, compat::RunstateInfo{info.state, info.state_entry_time, {}})
                        : m_guest.write_obj(vcpu, area->addr.p, info);
        return w ? 0 : -w.error();
    }
    default: return -ENOSYS;
    }
}

}  // namespace popek::pv
