/* pv_store.h - a XenStore client over the store ring (io/xs_wire.h): the page and event channel
 * come from HVM_PARAM_STORE_PFN / HVM_PARAM_STORE_EVTCHN. One request at a time; watch events that
 * arrive meanwhile are queued. Errors come back as -errno (XS_ERROR's name mapped through
 * xsd_errors), -EIO when the ring reports an error, -ETIME when no reply came in time. */
#pragma once
#include "pv_rt.h"

#include <xen/io/xs_wire.h>

extern struct xenstore_domain_interface* pv_xs_ring;
extern evtchn_port_t pv_xs_port;

long pv_xs_init(void);
/* One request/reply. The reply (NUL-terminated for convenience) goes to `reply` when given. */
long pv_xs_talk(enum xsd_sockmsg_type type, uint32_t tx, const void* payload, uint32_t len, char* reply,
                uint32_t cap, uint32_t* reply_len);
/* Returns the value's length (value NUL-terminated in `out`) or -errno. */
long pv_xs_read(uint32_t tx, const char* path, char* out, uint32_t cap);
long pv_xs_write(uint32_t tx, const char* path, const char* value);
long pv_xs_mkdir(uint32_t tx, const char* path);
long pv_xs_rm(uint32_t tx, const char* path);
/* Children as NUL-separated names; returns the length or -errno. */
long pv_xs_directory(uint32_t tx, const char* path, char* out, uint32_t cap);
/* True if the NUL-separated `list` of `len` bytes holds `name`. */
bool pv_xs_list_has(const char* list, long len, const char* name);
long pv_xs_get_perms(uint32_t tx, const char* path, char* out, uint32_t cap);
/* `perms`: NUL-separated entries such as "b1\0r0\0", `len` bytes. */
long pv_xs_set_perms(uint32_t tx, const char* path, const char* perms, uint32_t len);
long pv_xs_watch(const char* path, const char* token);
long pv_xs_unwatch(const char* path, const char* token);
long pv_xs_transaction_start(uint32_t* tx);
long pv_xs_transaction_end(uint32_t tx, bool commit);
/* Waits until `deadline_ns` for a watch event (queued or new); false on timeout. */
bool pv_xs_next_event(char* path, uint32_t path_cap, char* token, uint32_t token_cap, uint64_t deadline_ns);
/* Watch events received and queued so far (the queue holds PV_XS_MAX_EVENTS; more are counted). */
#define PV_XS_MAX_EVENTS 16
uint32_t pv_xs_events_received(void);
/* Puts raw bytes into the request ring (waiting for room) and notifies: for hostile tests. */
long pv_xs_send_raw(const void* bytes, uint32_t len);
/* Reads one whole message (header + payload) from the response ring; -ETIME, -EIO, 0. */
long pv_xs_recv_raw(struct xsd_sockmsg* hdr, char* body, uint32_t cap, uint64_t deadline_ns);
/* Milliseconds from now as a deadline for the calls above. */
uint64_t pv_deadline_ms(uint64_t ms);
