#pragma once
/// What the PV front ends (blkfront, the popekfs share front end, netfront) share in connecting to
/// their back ends: the XenBus steps around the handshake (io/xenbus.h: wait for the back end's
/// InitWait, publish, wait for Connected), granting pages (grant_table.h), and the shared memory
/// of a front end with one polled ring: the ring page, its data pages and a masked event channel.
#include "pv/xen_abi.h"
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

}  // namespace pos::xen
