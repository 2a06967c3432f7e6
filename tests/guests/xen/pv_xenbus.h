/* pv_xenbus.h - the front end's half of the XenBus handshake (io/xenbus.h states, the
 * device/<type>/<id> and backend paths of docs/misc/xenstore-paths): read the backend path, switch
 * our state, wait for the backend's state through a watch. */
#pragma once
#include "pv_store.h"

#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

struct pv_xenbus_dev {
    char fe[128];  /* device/<type>/<id> (relative to our domain's home) */
    char be[128];  /* the backend's absolute path, read from fe/backend */
    domid_t backend_id;
};

/* Fills `dev` for device/<type>/<id>; -errno when the toolstack did not create it. */
long pv_xenbus_open(struct pv_xenbus_dev* dev, const char* type, const char* id);
/* Reads "<dir>/<node>" as a decimal number. */
long pv_xenbus_read_u64(const char* dir, const char* node, uint64_t* value);
long pv_xenbus_write_u64(uint32_t tx, const char* dir, const char* node, uint64_t value);
long pv_xenbus_set_state(struct pv_xenbus_dev* dev, XenbusState state);
/* Waits (through a watch on be/state) until the backend's state is `want`; returns the state last
 * seen (so a caller can tell Closing from a timeout: compare with `want`). */
long pv_xenbus_wait_backend(struct pv_xenbus_dev* dev, XenbusState want, uint64_t timeout_ms);
/* The front end's half of a single-ring device's connection: waits for the back end's InitWait
 * (call before granting anything, so `ring_ref` / `port` are published to a back end that is
 * ready), then see pv_xenbus_publish_ring. */
long pv_xenbus_wait_init(struct pv_xenbus_dev* dev);
/* Publishes ring-ref, event-channel, protocol and state Initialised in one transaction (retried on
 * EAGAIN, as Linux's front ends do), waits for the back end's Connected. 0, or -errno / -EIO when
 * the back end did not connect. */
long pv_xenbus_publish_ring(struct pv_xenbus_dev* dev, grant_ref_t ring_ref, evtchn_port_t port);
/* Closing, then Closed; returns the back end's final state. */
long pv_xenbus_close(struct pv_xenbus_dev* dev);
/* Joins dir + "/" + node into `out`. */
const char* pv_path(char* out, uint32_t cap, const char* dir, const char* node);
