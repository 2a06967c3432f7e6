/* pv_sharefront.c - see pv_sharefront.h. */
#include "pv_sharefront.h"

#include "pv_evtchn.h"
#include "pv_grant.h"
#include "pv_hypercall.h"

#define TIMEOUT_MS 10000

uint8_t pv_share_data[POPEKFS_MAX_DATA_PAGES][PV_PAGE_SIZE] PV_PAGE_ALIGNED;
static uint8_t ring_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
static uint64_t next_id = 1;

long pv_share_connect(struct pv_sharefront* sf) {
    memset(sf, 0, sizeof *sf);
    long r = pv_xenbus_open(&sf->dev, POPEKFS_DEVICE_TYPE, "0");
    if (r != 0) return r;
    r = pv_xenbus_wait_init(&sf->dev);
    if (r != 0) return r;
    char path[192], mode[8] = "";
    pv_xs_read(0, pv_path(path, sizeof path, sf->dev.be, "mode"), mode, sizeof mode);
    sf->readonly = strcmp(mode, "r") == 0;
    pv_xenbus_read_u64(sf->dev.be, "max-handles", &sf->max_handles);

    struct popekfs_sring* sring = (struct popekfs_sring*)ring_page;
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&sf->ring, sring, PV_PAGE_SIZE);
    sf->ring_ref = pv_grant_page(sf->dev.backend_id, ring_page, false);
    if (sf->ring_ref == 0) return -ENOSPC;
    for (int i = 0; i < POPEKFS_MAX_DATA_PAGES; ++i) {
        sf->data_ref[i] = pv_grant_page(sf->dev.backend_id, pv_share_data[i], false);
        if (sf->data_ref[i] == 0) return -ENOSPC;
    }
    r = pv_evtchn_alloc_unbound(sf->dev.backend_id, &sf->port);
    if (r != 0) return r;
    r = pv_xenbus_publish_ring(&sf->dev, sf->ring_ref, sf->port);
    if (r != 0) return r;
    return pv_xenbus_set_state(&sf->dev, XenbusStateConnected);
}

long pv_share_submit(struct pv_sharefront* sf, struct popekfs_request* req, struct popekfs_response* rsp) {
    struct popekfs_request* slot = RING_GET_REQUEST(&sf->ring, sf->ring.req_prod_pvt);
    req->id = next_id++;
    *slot = *req;
    sf->ring.req_prod_pvt++;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&sf->ring, notify);
    if (notify) pv_evtchn_send(sf->port);
    uint64_t deadline = pv_deadline_ms(TIMEOUT_MS);
    for (;;) {
        if (RING_HAS_UNCONSUMED_RESPONSES(&sf->ring)) {
            *rsp = *RING_GET_RESPONSE(&sf->ring, sf->ring.rsp_cons);
            sf->ring.rsp_cons++;
            int more = 0;
            RING_FINAL_CHECK_FOR_RESPONSES(&sf->ring, more);
            if (rsp->id != req->id || rsp->op != req->op) return -EIO;
            return rsp->status;
        }
        if (!pv_evtchn_wait(sf->port, deadline) && pv_now_ns() >= deadline) return -ETIME;
    }
}

struct popekfs_request pv_share_request(struct pv_sharefront* sf, uint8_t op, const void* data, uint32_t len) {
    struct popekfs_request req = {.op = op, .length = len};
    if (len > sizeof pv_share_data) len = sizeof pv_share_data;
    if (data) memcpy(pv_share_data, data, len);
    req.nr_pages = (uint8_t)((len + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE);
    for (int i = 0; i < POPEKFS_MAX_DATA_PAGES; ++i) req.data_ref[i] = sf->data_ref[i];
    return req;
}

long pv_share_open(struct pv_sharefront* sf, const char* path, uint32_t len, uint16_t flags) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_OPEN, path, len);
    req.flags = flags;
    struct popekfs_response rsp;
    long r = pv_share_submit(sf, &req, &rsp);
    return r < 0 ? r : (long)rsp.value;
}

long pv_share_open_str(struct pv_sharefront* sf, const char* path, uint16_t flags) {
    return pv_share_open(sf, path, (uint32_t)strlen(path), flags);
}

long pv_share_close(struct pv_sharefront* sf, uint32_t handle) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_CLOSE, 0, 0);
    req.handle = handle;
    struct popekfs_response rsp;
    return pv_share_submit(sf, &req, &rsp);
}

long pv_share_read(struct pv_sharefront* sf, uint32_t handle, uint64_t offset, void* buf, uint32_t len) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_READ, 0, len);
    req.handle = handle;
    req.offset = offset;
    struct popekfs_response rsp;
    long r = pv_share_submit(sf, &req, &rsp);
    if (r < 0) return r;
    if (rsp.value > len) return -EIO;
    memcpy(buf, pv_share_data, rsp.value);
    return (long)rsp.value;
}

long pv_share_write(struct pv_sharefront* sf, uint32_t handle, uint64_t offset, const void* buf, uint32_t len) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_WRITE, buf, len);
    req.handle = handle;
    req.offset = offset;
    struct popekfs_response rsp;
    long r = pv_share_submit(sf, &req, &rsp);
    return r < 0 ? r : (long)rsp.value;
}

long pv_share_stat(struct pv_sharefront* sf, const char* path, struct popekfs_response* rsp) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_STAT, path, (uint32_t)strlen(path));
    return pv_share_submit(sf, &req, rsp);
}

long pv_share_fstat(struct pv_sharefront* sf, uint32_t handle, struct popekfs_response* rsp) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_FSTAT, 0, 0);
    req.handle = handle;
    return pv_share_submit(sf, &req, rsp);
}

long pv_share_readdir(struct pv_sharefront* sf, uint32_t handle, uint64_t cookie, uint32_t len,
                      struct popekfs_response* rsp) {
    struct popekfs_request req = pv_share_request(sf, POPEKFS_OP_READDIR, 0, len);
    req.handle = handle;
    req.offset = cookie;
    return pv_share_submit(sf, &req, rsp);
}

long pv_share_path_op(struct pv_sharefront* sf, uint8_t op, const char* path, uint16_t flags) {
    struct popekfs_request req = pv_share_request(sf, op, path, (uint32_t)strlen(path));
    req.flags = flags;
    struct popekfs_response rsp;
    return pv_share_submit(sf, &req, &rsp);
}

long pv_share_disconnect(struct pv_sharefront* sf) { return pv_xenbus_close(&sf->dev); }
