/* pv_xenbus.c - see pv_xenbus.h. */
#include "pv_xenbus.h"

#include "pv_hypercall.h"

const char* pv_path(char* out, uint32_t cap, const char* dir, const char* node) {
    uint32_t n = (uint32_t)strlen(dir);
    pv_strcpy(out, dir, cap);
    if (n + 1 < cap) {
        out[n] = '/';
        pv_strcpy(out + n + 1, node, cap - n - 1);
    }
    return out;
}

long pv_xenbus_read_u64(const char* dir, const char* node, uint64_t* value) {
    char path[192], buf[32];
    long r = pv_xs_read(0, pv_path(path, sizeof path, dir, node), buf, sizeof buf);
    if (r < 0) return r;
    return pv_atou(buf, value) ? 0 : -EINVAL;
}

long pv_xenbus_write_u64(uint32_t tx, const char* dir, const char* node, uint64_t value) {
    char path[192], buf[24];
    return pv_xs_write(tx, pv_path(path, sizeof path, dir, node), pv_utoa(value, buf));
}

long pv_xenbus_open(struct pv_xenbus_dev* dev, const char* type, const char* id) {
    char path[192];
    pv_path(dev->fe, sizeof dev->fe, "device", type);
    pv_strcpy(path, dev->fe, sizeof path);
    pv_path(dev->fe, sizeof dev->fe, path, id);
    long r = pv_xs_read(0, pv_path(path, sizeof path, dev->fe, "backend"), dev->be, sizeof dev->be);
    if (r < 0) return r;
    uint64_t id_value = 0;
    r = pv_xenbus_read_u64(dev->fe, "backend-id", &id_value);
    dev->backend_id = (domid_t)id_value;
    return r;
}

long pv_xenbus_set_state(struct pv_xenbus_dev* dev, XenbusState state) {
    return pv_xenbus_write_u64(0, dev->fe, "state", (uint64_t)state);
}

#define PV_XENBUS_TIMEOUT_MS 10000

long pv_xenbus_wait_init(struct pv_xenbus_dev* dev) {
    long state = pv_xenbus_wait_backend(dev, XenbusStateInitWait, PV_XENBUS_TIMEOUT_MS);
    return state == XenbusStateInitWait ? 0 : state < 0 ? state : -EIO;
}

long pv_xenbus_publish_ring(struct pv_xenbus_dev* dev, grant_ref_t ring_ref, evtchn_port_t port) {
    char path[192];
    long r = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        uint32_t tx = 0;
        r = pv_xs_transaction_start(&tx);
        if (r != 0) return r;
        pv_xenbus_write_u64(tx, dev->fe, "ring-ref", ring_ref);
        pv_xenbus_write_u64(tx, dev->fe, "event-channel", port);
        pv_xs_write(tx, pv_path(path, sizeof path, dev->fe, "protocol"), XEN_IO_PROTO_ABI_X86_64);
        pv_xenbus_write_u64(tx, dev->fe, "state", XenbusStateInitialised);
        r = pv_xs_transaction_end(tx, true);
        if (r != -EAGAIN) break;
    }
    if (r != 0) return r;
    long state = pv_xenbus_wait_backend(dev, XenbusStateConnected, PV_XENBUS_TIMEOUT_MS);
    return state == XenbusStateConnected ? 0 : state < 0 ? state : -EIO;
}

long pv_xenbus_close(struct pv_xenbus_dev* dev) {
    pv_xenbus_set_state(dev, XenbusStateClosing);
    pv_xenbus_wait_backend(dev, XenbusStateClosing, PV_XENBUS_TIMEOUT_MS);
    pv_xenbus_set_state(dev, XenbusStateClosed);
    return pv_xenbus_wait_backend(dev, XenbusStateClosed, PV_XENBUS_TIMEOUT_MS);
}

long pv_xenbus_wait_backend(struct pv_xenbus_dev* dev, XenbusState want, uint64_t timeout_ms) {
    char path[192], ev_path[192], token[64];
    pv_path(path, sizeof path, dev->be, "state");
    if (pv_xs_watch(path, "be-state") != 0) return -EIO;
    uint64_t deadline = pv_deadline_ms(timeout_ms), state = 0;
    long seen = -ETIME;
    for (;;) {
        if (pv_xenbus_read_u64(dev->be, "state", &state) == 0) {
            seen = (long)state;
            if (state == (uint64_t)want || state == XenbusStateClosing || state == XenbusStateClosed) break;
        }
        if (!pv_xs_next_event(ev_path, sizeof ev_path, token, sizeof token, deadline)) break;
    }
    pv_xs_unwatch(path, "be-state");
    return seen;
}
