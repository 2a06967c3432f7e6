/* pv_store.c - see pv_store.h. */
#include "pv_store.h"

#include "pv_evtchn.h"
#include "pv_hypercall.h"

#define XS_TIMEOUT_MS 10000

struct xenstore_domain_interface* pv_xs_ring;
evtchn_port_t pv_xs_port;
static uint32_t g_req_id = 1;

struct queued_event {
    char path[256];
    char token[64];
};
static struct queued_event g_events[PV_XS_MAX_EVENTS];
static uint32_t g_event_head, g_event_count, g_events_received;
static char g_body[XENSTORE_PAYLOAD_MAX + 1];

uint64_t pv_deadline_ms(uint64_t ms) { return pv_now_ns() + ms * 1000000ull; }
uint32_t pv_xs_events_received(void) { return g_events_received; }

long pv_xs_init(void) {
    uint64_t pfn = 0, port = 0;
    long r = pv_hvm_get_param(HVM_PARAM_STORE_PFN, &pfn);
    if (r == 0) r = pv_hvm_get_param(HVM_PARAM_STORE_EVTCHN, &port);
    if (r != 0) return r;
    if (pfn == 0 || port == 0) return -ENOENT;
    pv_xs_ring = (struct xenstore_domain_interface*)(uintptr_t)(pfn << 12);
    pv_xs_port = (evtchn_port_t)port;
    return 0;
}

static long ring_error(void) {
    return __atomic_load_n(&pv_xs_ring->error, __ATOMIC_ACQUIRE) ? -EIO : 0;
}

long pv_xs_send_raw(const void* bytes, uint32_t len) {
    const char* p = bytes;
    uint64_t deadline = 0;
    while (len > 0) {
        if (ring_error()) return -EIO;
        XENSTORE_RING_IDX cons = __atomic_load_n(&pv_xs_ring->req_cons, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX prod = pv_xs_ring->req_prod;
        uint32_t room = XENSTORE_RING_SIZE - (prod - cons);
        if (room == 0 || room > XENSTORE_RING_SIZE) {
            if (deadline == 0) deadline = pv_deadline_ms(XS_TIMEOUT_MS);
            pv_evtchn_send(pv_xs_port);
            if (!pv_evtchn_wait(pv_xs_port, deadline) && pv_now_ns() >= deadline) return -ETIME;
            continue;
        }
        uint32_t chunk = room < len ? room : len;
        for (uint32_t i = 0; i < chunk; ++i) pv_xs_ring->req[MASK_XENSTORE_IDX(prod + i)] = p[i];
        pv_wmb(); /* data before the index (xs_wire.h) */
        __atomic_store_n(&pv_xs_ring->req_prod, prod + chunk, __ATOMIC_RELEASE);
        p += chunk;
        len -= chunk;
    }
    return pv_evtchn_send(pv_xs_port);
}

/* Copies exactly `len` response bytes out, waiting for them. */
static long ring_read(void* out, uint32_t len, uint64_t deadline) {
    char* p = out;
    while (len > 0) {
        if (ring_error()) return -EIO;
        XENSTORE_RING_IDX prod = __atomic_load_n(&pv_xs_ring->rsp_prod, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX cons = pv_xs_ring->rsp_cons;
        uint32_t avail = prod - cons;
        if (avail > XENSTORE_RING_SIZE) return -EIO; /* popek would never do that */
        if (avail == 0) {
            if (!pv_evtchn_wait(pv_xs_port, deadline) && pv_now_ns() >= deadline) return -ETIME;
            continue;
        }
        uint32_t chunk = avail < len ? avail : len;
        pv_rmb(); /* the index before the data */
        for (uint32_t i = 0; i < chunk; ++i) p[i] = pv_xs_ring->rsp[MASK_XENSTORE_IDX(cons + i)];
        pv_mb(); /* data read before the slot is given back */
        __atomic_store_n(&pv_xs_ring->rsp_cons, cons + chunk, __ATOMIC_RELEASE);
        pv_evtchn_send(pv_xs_port); /* popek may have more output waiting for room */
        p += chunk;
        len -= chunk;
    }
    return 0;
}

long pv_xs_recv_raw(struct xsd_sockmsg* hdr, char* body, uint32_t cap, uint64_t deadline_ns) {
    long r = ring_read(hdr, sizeof *hdr, deadline_ns);
    if (r != 0) return r;
    if (hdr->len > XENSTORE_PAYLOAD_MAX) return -EIO;
    r = ring_read(g_body, hdr->len, deadline_ns);
    if (r != 0) return r;
    g_body[hdr->len] = 0;
    if (body) {
        uint32_t n = hdr->len < cap - 1 ? hdr->len : cap - 1;
        memcpy(body, g_body, n);
        body[n] = 0;
    }
    return 0;
}

static void queue_event(const char* body, uint32_t len) {
    ++g_events_received;
    if (g_event_count == PV_XS_MAX_EVENTS) return;
    struct queued_event* e = &g_events[(g_event_head + g_event_count++) % PV_XS_MAX_EVENTS];
    size_t plen = strlen(body);
    pv_strcpy(e->path, body, sizeof e->path);
    pv_strcpy(e->token, plen + 1 < len ? body + plen + 1 : "", sizeof e->token);
}

static long error_to_errno(const char* name) {
    for (size_t i = 0; i < PV_ARRAY_SIZE(xsd_errors); ++i)
        if (strcmp(xsd_errors[i].errstring, name) == 0) return -xsd_errors[i].errnum;
    return -EIO;
}

long pv_xs_talk(enum xsd_sockmsg_type type, uint32_t tx, const void* payload, uint32_t len, char* reply,
                uint32_t cap, uint32_t* reply_len) {
    struct xsd_sockmsg hdr = {.type = type, .req_id = g_req_id++, .tx_id = tx, .len = len};
    long r = pv_xs_send_raw(&hdr, sizeof hdr);
    if (r == 0 && len) r = pv_xs_send_raw(payload, len);
    if (r != 0) return r;
    uint64_t deadline = pv_deadline_ms(XS_TIMEOUT_MS);
    for (;;) {
        struct xsd_sockmsg rh;
        r = pv_xs_recv_raw(&rh, NULL, 0, deadline);
        if (r != 0) return r;
        if (rh.type == XS_WATCH_EVENT) {
            queue_event(g_body, rh.len);
            continue;
        }
        if (rh.req_id != hdr.req_id) return -EIO;
        if (rh.type == XS_ERROR) return error_to_errno(g_body);
        if (rh.type != type) return -EIO;
        if (reply && cap) {
            uint32_t n = rh.len < cap - 1 ? rh.len : cap - 1;
            memcpy(reply, g_body, n);
            reply[n] = 0;
        }
        if (reply_len) *reply_len = rh.len;
        return 0;
    }
}

/* Builds "a\0b\0" style payloads from up to two strings (the second may hold NULs: len2). */
static long talk2(enum xsd_sockmsg_type type, uint32_t tx, const char* a, const char* b, uint32_t blen,
                  char* reply, uint32_t cap, uint32_t* rlen) {
    static char msg[XENSTORE_PAYLOAD_MAX];
    uint32_t alen = (uint32_t)strlen(a) + 1;
    if (alen + blen > sizeof msg) return -E2BIG;
    memcpy(msg, a, alen);
    if (b) memcpy(msg + alen, b, blen);
    return pv_xs_talk(type, tx, msg, alen + blen, reply, cap, rlen);
}

long pv_xs_read(uint32_t tx, const char* path, char* out, uint32_t cap) {
    uint32_t n = 0;
    long r = talk2(XS_READ, tx, path, NULL, 0, out, cap, &n);
    return r != 0 ? r : (long)n;
}

long pv_xs_write(uint32_t tx, const char* path, const char* value) {
    return talk2(XS_WRITE, tx, path, value, (uint32_t)strlen(value), NULL, 0, NULL);
}

long pv_xs_mkdir(uint32_t tx, const char* path) { return talk2(XS_MKDIR, tx, path, NULL, 0, NULL, 0, NULL); }
long pv_xs_rm(uint32_t tx, const char* path) { return talk2(XS_RM, tx, path, NULL, 0, NULL, 0, NULL); }

long pv_xs_directory(uint32_t tx, const char* path, char* out, uint32_t cap) {
    uint32_t n = 0;
    long r = talk2(XS_DIRECTORY, tx, path, NULL, 0, out, cap, &n);
    return r != 0 ? r : (long)n;
}

bool pv_xs_list_has(const char* list, long len, const char* name) {
    for (long i = 0; i < len; i += (long)strlen(list + i) + 1)
        if (strcmp(list + i, name) == 0) return true;
    return false;
}

long pv_xs_get_perms(uint32_t tx, const char* path, char* out, uint32_t cap) {
    uint32_t n = 0;
    long r = talk2(XS_GET_PERMS, tx, path, NULL, 0, out, cap, &n);
    return r != 0 ? r : (long)n;
}

long pv_xs_set_perms(uint32_t tx, const char* path, const char* perms, uint32_t len) {
    return talk2(XS_SET_PERMS, tx, path, perms, len, NULL, 0, NULL);
}

long pv_xs_watch(const char* path, const char* token) {
    return talk2(XS_WATCH, 0, path, token, (uint32_t)strlen(token) + 1, NULL, 0, NULL);
}

long pv_xs_unwatch(const char* path, const char* token) {
    return talk2(XS_UNWATCH, 0, path, token, (uint32_t)strlen(token) + 1, NULL, 0, NULL);
}

long pv_xs_transaction_start(uint32_t* tx) {
    char id[16];
    long r = pv_xs_talk(XS_TRANSACTION_START, 0, "", 1, id, sizeof id, NULL);
    uint64_t v = 0;
    if (r != 0) return r;
    if (!pv_atou(id, &v)) return -EIO;
    *tx = (uint32_t)v;
    return 0;
}

long pv_xs_transaction_end(uint32_t tx, bool commit) {
    return pv_xs_talk(XS_TRANSACTION_END, tx, commit ? "T" : "F", 2, NULL, 0, NULL);
}

bool pv_xs_next_event(char* path, uint32_t path_cap, char* token, uint32_t token_cap, uint64_t deadline_ns) {
    while (g_event_count == 0) {
        struct xsd_sockmsg rh;
        if (pv_xs_recv_raw(&rh, NULL, 0, deadline_ns) != 0) return false;
        if (rh.type == XS_WATCH_EVENT) queue_event(g_body, rh.len);
    }
    struct queued_event* e = &g_events[g_event_head];
    g_event_head = (g_event_head + 1) % PV_XS_MAX_EVENTS;
    --g_event_count;
    pv_strcpy(path, e->path, path_cap);
    pv_strcpy(token, e->token, token_cap);
    return true;
}
