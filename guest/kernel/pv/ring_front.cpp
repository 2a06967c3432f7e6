#include "pv/ring_front.h"

#include "common/format.h"
#include "mm/pmm.h"
#include "pv/evtchn.h"
#include "pv/grant_table.h"

namespace pos::xen {

namespace {
/// 0 once the back end is in `want`; its other state as -EIO, or the wait's error.
long wait_backend_state(const XenbusDevice& dev, XenbusState want) {
    long state = xenbus_wait_backend(dev, want, kFrontTimeoutMs);
    if (state == want) return 0;
    return state < 0 ? state : -kEIO;
}
}  // namespace

long front_open(XenbusDevice& dev, const char* type, const char* devid) {
    if (long r = xenbus_open(dev, type, devid); r < 0) return r;
    return wait_backend_state(dev, XenbusStateInitWait);
}

long front_wait_connected(const XenbusDevice& dev) { return wait_backend_state(dev, XenbusStateConnected); }

long grant_pages(domid_t domid, uint64_t phys, unsigned count, bool readonly, grant_ref_t* refs) {
    for (unsigned i = 0; i < count; ++i) {
        long ref = grant::grant_access(domid, (phys >> 12) + i, readonly);
        if (ref < 0) return -kENOSPC;
        refs[i] = static_cast<grant_ref_t>(ref);
    }
    return 0;
}

long polled_ring_setup(const XenbusDevice& dev, unsigned data_pages, grant_ref_t* data_refs, PolledRing& ring) {
    uint64_t ring_phys = pmm::alloc_zeroed_frame();
    uint64_t data_phys = pmm::alloc_contiguous(data_pages);
    if (ring_phys == 0 || data_phys == 0) return -ENOMEM;
    ring.ring_page = phys_to_virt<uint8_t>(ring_phys);
    ring.data = phys_to_virt<uint8_t>(data_phys);
    if (long r = grant_pages(dev.backend_id, ring_phys, 1, false, &ring.ring_ref); r < 0) return r;
    if (long r = grant_pages(dev.backend_id, data_phys, data_pages, false, data_refs); r < 0) return r;
    long port = evtchn::alloc_unbound(dev.backend_id);
    if (port < 0) return port;
    ring.port = static_cast<evtchn_port_t>(port);
    evtchn::mask(ring.port);   // polled, never dispatched
    return 0;
}

long polled_ring_publish(const XenbusDevice& dev, const PolledRing& ring) {
    char ring_ref[16], port[16];
    format(ring_ref, sizeof ring_ref, "%u", ring.ring_ref);
    format(port, sizeof port, "%u", ring.port);
    const XenbusNode nodes[] = {
        {"ring-ref", ring_ref}, {"event-channel", port}, {"protocol", XEN_IO_PROTO_ABI_X86_64}};
    if (long r = xenbus_publish(dev, nodes, sizeof nodes / sizeof nodes[0], XenbusStateInitialised); r < 0) return r;
    return front_wait_connected(dev);
}

}  // namespace pos::xen
