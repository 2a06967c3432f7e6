/// A `--xen` guest's platform in a snapshot (docs/snapshot.md "Xen guests"): Xen system time's
/// origin and each vCPU's singleshot timer (VCPUOP_set_singleshot_timer, vcpu.h), the hypercall
/// layer's vCPU-up flags and balloon, the pages shown above RAM (XENMEM_add_to_physmap of grant
/// frames, memory.h), the domain's HVM parameters and console; then the event channels, the grant
/// table, the XenStore and every XenBus back end in sections of their own. The shared rings,
/// shared_info and vcpu_info are guest RAM and travel in the memory file.
#include "snapshot/engine_state.h"
#include "vmm/xen_platform.h"

namespace popek::vmm {
namespace {

constexpr uint32_t kMaxPhysmapPages = 1u << 16;

}  // namespace

XenPlatform::Hold XenPlatform::hold() {
    Hold h;
    // In the order the other threads take them: the store before the console and the back ends.
    h.locks.emplace_back(m_fire_lock);
    h.locks.push_back(m_domain->hold_store());
    h.locks.push_back(m_domain->hold_console());
    if (m_io)
        for (auto& l : m_io->hold_rx()) h.locks.push_back(std::move(l));
    return h;
}

Result<std::vector<snapshot::Section>> XenPlatform::save_state(const Hold&) {
    // --driver-domain: a `popek backend` process keeps nothing between two requests (the disk's
    // descriptor and read-only flag, which the restore's fresh process gets from CONF), and
    // each request is answered within the notifying vCPU's hypercall under the vbd's I/O lock,
    // which XDEV's save takes: with the vCPUs paused no request is outstanding on its socket.
    // The ring, XenBus state, grant mappings and event channel of domain 2 are the VMM's and are
    // saved in XDEV, GNTT, EVTC and XSTR like dom0's.
    if (m_share)
        if (auto why = m_share->unsaveable()) return fail("--share: {}", *why);
    std::vector<std::pair<uint64_t, uint32_t>> physmap;   // gpfn -> host-held grant frame
    for (const auto& window : m_physmap)
        for (const auto& [gpfn, page] : window->mappings()) {
            auto idx = m_domain->grant_table().host_frame_index(page);
            if (!idx) return fail("--xen: the page at gpfn {:#x} is no grant frame", gpfn);
            physmap.emplace_back(gpfn, *idx);
        }
    std::vector<snapshot::Section> out;
    out.push_back(snapshot::section(snapshot::tags::kXen, 0, [&](snapshot::Writer& w) {
        w.u64(m_start_ns.load());
        {
            std::lock_guard lock(m_lock);
            w.u32(static_cast<uint32_t>(m_timer_deadline.size()));
            for (uint64_t d : m_timer_deadline) w.u64(d);
        }
        m_hypercalls->save(w);
        w.u32(static_cast<uint32_t>(physmap.size()));
        for (const auto& [gpfn, idx] : physmap) {
            w.u64(gpfn);
            w.u32(idx);
        }
        m_domain->save_domain(w);
    }));
    out.push_back(snapshot::section(snapshot::tags::kEventChannels, 0,
                                    [&](snapshot::Writer& w) { m_domain->event_channels().save(w); }));
    out.push_back(snapshot::section(snapshot::tags::kGrantTable, 0,
                                    [&](snapshot::Writer& w) { m_domain->grant_table().save(w); }));
    out.push_back(snapshot::section(snapshot::tags::kXenStore, 0, [&](snapshot::Writer& w) { m_domain->save_store(w); }));
    const auto backends = m_io ? m_io->backends() : std::vector<pv::XenbusBackend*>{};
    for (size_t i = 0; i < backends.size(); ++i)
        out.push_back(snapshot::section(snapshot::tags::kXenDevice, static_cast<uint32_t>(i), [&](snapshot::Writer& w) {
            w.str(backends[i]->frontend_path());
            backends[i]->save(w);
        }));
    if (m_share)
        out.push_back(snapshot::section(snapshot::tags::kShare, 0, [&](snapshot::Writer& w) {
            w.str(m_share->frontend_path());
            m_share->save(w);
        }));
    return out;
}

Result<void> XenPlatform::load_state(const snapshot::Image& image) {
    using snapshot::Reader;
    namespace tags = snapshot::tags;
    const auto backends = m_io ? m_io->backends() : std::vector<pv::XenbusBackend*>{};
    for (const snapshot::Section& s : image.sections)
        if (s.tag == tags::kXenDevice && s.instance >= backends.size())
            return fail("section `XDEV` {} is for a Xen device this VM does not have", s.instance);
        else if (s.tag == tags::kShare && !m_share)
            return fail("section `SHRE` is for a --share this VM does not have");
    // The tables first: the platform's pages and the back ends' connections refer to them.
    TRY_VOID(snapshot::load_section(image, tags::kEventChannels, 0, [&](Reader& r) { m_domain->event_channels().load(r); }));
    TRY_VOID(snapshot::load_section(image, tags::kGrantTable, 0, [&](Reader& r) { m_domain->grant_table().load(r); }));
    TRY_VOID(snapshot::load_section(image, tags::kXenStore, 0, [&](Reader& r) { m_domain->load_store(r); }));
    TRY_VOID(snapshot::load_section(image, tags::kXen, 0, [&](Reader& r) {
        const uint64_t start_ns = r.u64();
        const uint32_t vcpus = r.u32();
        if (r.ok() && vcpus != m_timer_deadline.size()) r.invalid("timers for {} vCPUs", vcpus);
        std::vector<uint64_t> deadlines(m_timer_deadline.size());
        for (uint64_t& d : deadlines) d = r.u64();
        m_hypercalls->load(r);
        const uint32_t pages = r.bounded(r.u32(), kMaxPhysmapPages, "the pages mapped above RAM");
        for (uint32_t i = 0; i < pages && r.ok(); ++i) {
            const uint64_t gpfn = r.u64();
            const uint32_t idx = r.u32();
            std::span<uint8_t> frame = r.ok() ? m_domain->grant_table().host_frame(idx) : std::span<uint8_t>{};
            if (r.ok() && (frame.empty() || !map_outside_ram(gpfn, frame)))
                r.invalid("grant frame {} cannot be shown at gpfn {:#x}", idx, gpfn);
        }
        m_domain->load_domain(r);
        if (!r.ok()) return;
        m_start_ns = start_ns;
        std::lock_guard lock(m_lock);
        m_timer_deadline = std::move(deadlines);
    }));
    for (size_t i = 0; i < backends.size(); ++i)
        TRY_VOID(snapshot::load_section(image, tags::kXenDevice, static_cast<uint32_t>(i), [&](Reader& r) {
            const std::string path = r.str(256);
            if (r.ok() && path != backends[i]->frontend_path())
                r.invalid("the device is `{}`, this VM's is `{}`", path, backends[i]->frontend_path());
            if (r.ok()) backends[i]->load(r);
        }));
    if (m_share)
        TRY_VOID(snapshot::load_section(image, tags::kShare, 0, [&](Reader& r) {
            const std::string path = r.str(256);
            if (r.ok() && path != m_share->frontend_path())
                r.invalid("the device is `{}`, this VM's is `{}`", path, m_share->frontend_path());
            if (r.ok()) m_share->load(r);
        }));
    publish_time();
    m_cv.notify_all();   // the timer thread takes the restored deadlines
    return {};
}

}  // namespace popek::vmm
