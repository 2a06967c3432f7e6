#pragma once
/// What the PV front ends (blkfront, the popekfs share front end, netfront) share in connecting to
/// their back ends: the XenBus steps around the handshake (io/xenbus.h: wait for the back end's
/// InitWait, publish, wait for Connected), granting pages (grant_table.h), and the shared memory
/// of a front end with one polled ring: the ring page, its data pages and a masked event channel.
#include "pv/evtchn.h"
#include "pv/xen_abi.h"
#include "pv/xen_clock.h"
#include "pv/xenbus.h"

namespace pos::xen {

/// How long a front end waits for each back-end state change.
inline constexpr uint64_t kFrontTimeoutMs = 10000;

/// Finds device/<type>/<devid> and waits for its back end's InitWait; 0 or a negative errno
/// (-ENOENT: no such device, -EIO: the back end went elsewhere).
long front_open(XenbusDevice& dev, const char* type, const char* devid);
/// Waits for the back end's Connected; 0 or a negative errno (-EIO for Closing/Closed).
long front_wait_connected(const XenbusDevice& dev);
/// Grants `count` consecutive frames from `phys` to `domid` into refs[count]; 0, or -ENOSPC when
/// the grant table is full.
long grant_pages(domid_t domid, uint64_t phys, unsigned count, bool readonly, grant_ref_t* refs);

/// A front end's single ring, as blkif and popekfs use it: a zeroed ring page and `data_pages`
/// contiguous data pages, all granted writable to the back end once for the whole connection,
/// and an unbound event channel kept masked (its owner waits with SCHEDOP_poll).
struct PolledRing {
    uint8_t* ring_page = nullptr;   ///< the shared ring (the caller runs SHARED_RING_INIT on it)
    uint8_t* data = nullptr;        ///< data_pages * 4 KiB, physically contiguous
    grant_ref_t ring_ref = 0;
    evtchn_port_t port = 0;
};

/// Sets `ring` up for the back end of `dev`; data_refs[data_pages] receives the data pages'
/// grants. 0 or a negative errno (-ENOMEM, -ENOSPC, an event channel error).
long polled_ring_setup(const XenbusDevice& dev, unsigned data_pages, grant_ref_t* data_refs, PolledRing& ring);
/// Publishes ring-ref, event-channel and protocol (x86_64-abi) with state Initialised in one
/// transaction (io/blkif.h "Front end XenBus nodes"; popekfs uses the same), then waits for the
/// back end's Connected. 0 or a negative errno.
long polled_ring_publish(const XenbusDevice& dev, const PolledRing& ring);

/// Pushes the requests queued on `ring` (notifying the back end when io/ring.h says it waits),
/// then waits on the polled port for the response with `id` and copies it into `out` (responses
/// with other ids are skipped). 0, or -EIO after kFrontTimeoutMs of silence, or -EIO with `broken`
/// set when the back end moved rsp_prod past what it could have answered: its ring is not to be
/// trusted any more.
template <typename FrontRing, typename Response>
long polled_ring_exchange(FrontRing& ring, const PolledRing& shared, uint64_t id, Response& out, bool& broken) {
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ring, notify);
    if (notify) evtchn::notify(shared.port);
    const uint64_t until = clock::now_ns() + kFrontTimeoutMs * 1000000;
    for (;;) {
        RING_IDX rsp_prod = __atomic_load_n(&ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
        if (rsp_prod - ring.rsp_cons > ring.req_prod_pvt - ring.rsp_cons) {
            broken = true;
            return -kEIO;
        }
        if (RING_HAS_UNCONSUMED_RESPONSES(&ring)) {
            out = *RING_GET_RESPONSE(&ring, ring.rsp_cons);   // one copy: the back end may rewrite it
            ring.rsp_cons++;
            if (out.id == id) return 0;
            continue;   // not ours (cannot happen with one request in flight)
        }
        if (!evtchn::wait_port(shared.port, until)) return -kEIO;
    }
}

}  // namespace pos::xen
