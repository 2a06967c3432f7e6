/* pv_blkfront.h - a minimal blkif front end (io/blkif.h "Feature and Parameter Negotiation",
 * io/ring.h): one single-page ring granted to the back end, one event channel, requests issued one
 * at a time and waited for. */
#pragma once
#include "pv_xenbus.h"

#define xen_mb() pv_mb()
#define xen_rmb() pv_rmb()
#define xen_wmb() pv_wmb()
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

struct pv_blkfront {
    struct pv_xenbus_dev dev;
    blkif_front_ring_t ring;
    grant_ref_t ring_ref;
    evtchn_port_t port;
    uint64_t sectors;
    uint64_t info;
    bool readonly;           /* the back end's "mode" is "r" */
    bool has_flush, has_discard;
};

/* Finds device/vbd/<id>, waits for InitWait, sets up the ring and channel, publishes them and
 * waits for Connected. 0, or -errno / the back end's state when it did not connect. */
long pv_blkfront_connect(struct pv_blkfront* bf, const char* id);
/* Queues `req` (its id is set here), notifies, and waits for the response; returns its status
 * (BLKIF_RSP_*), or -ETIME when the back end never answered. */
long pv_blkfront_submit(struct pv_blkfront* bf, const blkif_request_t* req);
/* A read or write of whole pages: `pages[i]` covers sectors sector + 8i .. +7. */
long pv_blkfront_rw(struct pv_blkfront* bf, uint8_t op, uint64_t sector, void* const* pages, unsigned count);
/* Closing, then Closed; returns the back end's final state. */
long pv_blkfront_close(struct pv_blkfront* bf);
