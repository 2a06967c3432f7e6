/* pv_blkfront.c - see pv_blkfront.h. */
#include "pv_blkfront.h"

#include "pv_evtchn.h"
#include "pv_grant.h"
#include "pv_hypercall.h"

#define TIMEOUT_MS 10000

static uint8_t ring_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
static grant_ref_t data_refs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
static const void* data_pages[BLKIF_MAX_SEGMENTS_PER_REQUEST];
static uint64_t next_id = 1;

long pv_blkfront_connect(struct pv_blkfront* bf, const char* id) {
    memset(bf, 0, sizeof *bf);
    long r = pv_xenbus_open(&bf->dev, "vbd", id);
    if (r != 0) return r;
    r = pv_xenbus_wait_init(&bf->dev);
    if (r != 0) return r;

    char path[192], mode[8] = "";
    pv_xs_read(0, pv_path(path, sizeof path, bf->dev.be, "mode"), mode, sizeof mode);
    bf->readonly = strcmp(mode, "r") == 0;
    uint64_t v = 0;
    bf->has_flush = pv_xenbus_read_u64(bf->dev.be, "feature-flush-cache", &v) == 0 && v == 1;
    bf->has_discard = pv_xenbus_read_u64(bf->dev.be, "feature-discard", &v) == 0 && v == 1;

    blkif_sring_t* sring = (blkif_sring_t*)ring_page;
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&bf->ring, sring, PV_PAGE_SIZE);
    bf->ring_ref = pv_grant_page(bf->dev.backend_id, ring_page, false);
    if (bf->ring_ref == 0) return -ENOSPC;
    r = pv_evtchn_alloc_unbound(bf->dev.backend_id, &bf->port);
    if (r != 0) return r;

    r = pv_xenbus_publish_ring(&bf->dev, bf->ring_ref, bf->port);
    if (r != 0) return r;
    if (pv_xenbus_read_u64(bf->dev.be, "sectors", &bf->sectors) != 0) return -EIO;
    pv_xenbus_read_u64(bf->dev.be, "info", &bf->info);
    return pv_xenbus_set_state(&bf->dev, XenbusStateConnected);
}

long pv_blkfront_submit(struct pv_blkfront* bf, const blkif_request_t* req) {
    blkif_request_t* slot = RING_GET_REQUEST(&bf->ring, bf->ring.req_prod_pvt);
    *slot = *req;
    const uint64_t id = next_id++; /* the response overwrites the slot: keep the id here */
    slot->id = id;
    bf->ring.req_prod_pvt++;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&bf->ring, notify);
    if (notify) pv_evtchn_send(bf->port);
    uint64_t deadline = pv_deadline_ms(TIMEOUT_MS);
    for (;;) {
        if (RING_HAS_UNCONSUMED_RESPONSES(&bf->ring)) {
            blkif_response_t* rsp = RING_GET_RESPONSE(&bf->ring, bf->ring.rsp_cons);
            bf->ring.rsp_cons++;
            int more = 0;
            RING_FINAL_CHECK_FOR_RESPONSES(&bf->ring, more);
            if (rsp->id != id) return -EIO;
            return rsp->status;
        }
        if (!pv_evtchn_wait(bf->port, deadline) && pv_now_ns() >= deadline) return -ETIME;
    }
}

long pv_blkfront_rw(struct pv_blkfront* bf, uint8_t op, uint64_t sector, void* const* pages, unsigned count) {
    if (count == 0 || count > BLKIF_MAX_SEGMENTS_PER_REQUEST) return -EINVAL;
    blkif_request_t req = {.operation = op, .nr_segments = (uint8_t)count, .handle = 0, .sector_number = sector};
    for (unsigned i = 0; i < count; ++i) {
        /* Grants are cached per slot and page, as a front end with persistent grants would. */
        if (data_pages[i] != pages[i] || data_refs[i] == 0) {
            if (data_refs[i]) pv_grant_end(data_refs[i]);
            data_refs[i] = pv_grant_page(bf->dev.backend_id, pages[i], false);
            data_pages[i] = pages[i];
        }
        req.seg[i] = (struct blkif_request_segment){.gref = data_refs[i], .first_sect = 0, .last_sect = 7};
    }
    return pv_blkfront_submit(bf, &req);
}

long pv_blkfront_close(struct pv_blkfront* bf) {
    return pv_xenbus_close(&bf->dev);
}
