/* pv_sharefront.h - a popekfs front end (include/popek/pvabi/fsif.h): device/popekfs/0, one
 * single-page ring granted to the back end, one event channel, POPEKFS_MAX_DATA_PAGES data pages
 * granted once at connection (as persistent grants), requests issued one at a time. */
#pragma once
#include "pv_xenbus.h"

#define xen_mb() pv_mb()
#define xen_rmb() pv_rmb()
#define xen_wmb() pv_wmb()
#include <popek/pvabi/fsif.h>

struct pv_sharefront {
    struct pv_xenbus_dev dev;
    struct popekfs_front_ring ring;
    grant_ref_t ring_ref;
    evtchn_port_t port;
    bool readonly; /* the back end's "mode" is "r" */
    uint64_t max_handles;
    grant_ref_t data_ref[POPEKFS_MAX_DATA_PAGES];
};

/* The data pages (granted writable to the back end at connection). */
extern uint8_t pv_share_data[POPEKFS_MAX_DATA_PAGES][PV_PAGE_SIZE];

/* Finds device/popekfs/0, connects; 0 or -errno / the back end's state when it did not connect. */
long pv_share_connect(struct pv_sharefront* sf);
/* Sends `req` (its id is set here) and waits for the response into `rsp`; returns rsp->status, or
 * -ETIME when no response came, -EIO for a response to another request. */
long pv_share_submit(struct pv_sharefront* sf, struct popekfs_request* req, struct popekfs_response* rsp);
/* A request with `len` bytes of `data` copied into the data pages (a path, file bytes). */
struct popekfs_request pv_share_request(struct pv_sharefront* sf, uint8_t op, const void* data, uint32_t len);
/* Open: the handle or -errno. `path` has `len` bytes (no terminator needed; may hold NUL). */
long pv_share_open(struct pv_sharefront* sf, const char* path, uint32_t len, uint16_t flags);
/* The same for a C string. */
long pv_share_open_str(struct pv_sharefront* sf, const char* path, uint16_t flags);
long pv_share_close(struct pv_sharefront* sf, uint32_t handle);
/* Bytes read into `buf` (≤ 32 KiB) or -errno. */
long pv_share_read(struct pv_sharefront* sf, uint32_t handle, uint64_t offset, void* buf, uint32_t len);
long pv_share_write(struct pv_sharefront* sf, uint32_t handle, uint64_t offset, const void* buf, uint32_t len);
long pv_share_stat(struct pv_sharefront* sf, const char* path, struct popekfs_response* rsp);
long pv_share_fstat(struct pv_sharefront* sf, uint32_t handle, struct popekfs_response* rsp);
/* READDIR from `cookie` into the data pages (`len` bytes); records start at pv_share_data[0]. */
long pv_share_readdir(struct pv_sharefront* sf, uint32_t handle, uint64_t cookie, uint32_t len,
                      struct popekfs_response* rsp);
/* UNLINK / MKDIR of a C string path. */
long pv_share_path_op(struct pv_sharefront* sf, uint8_t op, const char* path, uint16_t flags);
/* Closing, then Closed; returns the back end's final state. */
long pv_share_disconnect(struct pv_sharefront* sf);
