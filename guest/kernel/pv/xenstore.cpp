#include "pv/xenstore.h"

#include "common/string.h"
#include "lib/spinlock.h"
#include "mm/pmm.h"
#include "pv/evtchn.h"
#include "pv/hypercall.h"
#include "pv/xen_clock.h"

namespace pos::xen::store {
namespace {

struct Event {
    char path[128];
    char token[32];
};

xenstore_domain_interface* g_ring = nullptr;
evtchn_port_t g_port = 0;
Spinlock g_lock;
uint32_t g_next_id = 1;
bool g_broken = false;   // the ring reported an error or its indices went wrong: no more requests
char g_body[XENSTORE_PAYLOAD_MAX + 1];
Event g_events[kMaxEvents];
unsigned g_event_head = 0, g_event_count = 0;
uint64_t g_dropped = 0;

uint64_t deadline() { return clock::now_ns() + kTimeoutMs * 1000000; }

bool ring_ok() {
    if (__atomic_load_n(&g_ring->error, __ATOMIC_ACQUIRE) != 0) g_broken = true;
    return !g_broken;
}

long send_bytes(const void* bytes, uint32_t len, uint64_t until) {
    const char* p = static_cast<const char*>(bytes);
    while (len > 0) {
        if (!ring_ok()) return -kEIO;
        XENSTORE_RING_IDX cons = __atomic_load_n(&g_ring->req_cons, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX prod = g_ring->req_prod;
        if (prod - cons > XENSTORE_RING_SIZE) {
            g_broken = true;
            return -kEIO;
        }
        uint32_t room = XENSTORE_RING_SIZE - (prod - cons);
        if (room == 0) {
            evtchn::notify(g_port);
            if (!evtchn::wait_port(g_port, until)) return -kETIME;
            continue;
        }
        uint32_t n = room < len ? room : len;
        for (uint32_t i = 0; i < n; ++i) g_ring->req[MASK_XENSTORE_IDX(prod + i)] = p[i];
        xen_wmb();   // data before the index (xs_wire.h)
        __atomic_store_n(&g_ring->req_prod, prod + n, __ATOMIC_RELEASE);
        p += n;
        len -= n;
    }
    evtchn::notify(g_port);
    return 0;
}

long recv_bytes(void* out, uint32_t len, uint64_t until) {
    char* p = static_cast<char*>(out);
    while (len > 0) {
        if (!ring_ok()) return -kEIO;
        XENSTORE_RING_IDX prod = __atomic_load_n(&g_ring->rsp_prod, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX cons = g_ring->rsp_cons;
        uint32_t avail = prod - cons;
        if (avail > XENSTORE_RING_SIZE) {
            g_broken = true;
            return -kEIO;
        }
        if (avail == 0) {
            if (!evtchn::wait_port(g_port, until)) return -kETIME;
            continue;
        }
        uint32_t n = avail < len ? avail : len;
        xen_rmb();   // the index before the data
        for (uint32_t i = 0; i < n; ++i) p[i] = g_ring->rsp[MASK_XENSTORE_IDX(cons + i)];
        xen_mb();    // data read before the space is given back
        __atomic_store_n(&g_ring->rsp_cons, cons + n, __ATOMIC_RELEASE);
        evtchn::notify(g_port);
        p += n;
        len -= n;
    }
    return 0;
}

void queue_event(uint32_t len) {
    if (g_event_count == kMaxEvents) {
        ++g_dropped;
        return;
    }
    Event& e = g_events[(g_event_head + g_event_count++) % kMaxEvents];
    size_t path_len = strnlen(g_body, len);
    copy_string(e.path, sizeof e.path, g_body);
    copy_string(e.token, sizeof e.token, path_len + 1 < len ? g_body + path_len + 1 : "");
}

long error_to_errno(const char* name) {
    for (const auto& e : xsd_errors)
        if (strcmp(e.errstring, name) == 0) return -e.errnum;
    return -kEIO;
}

/// Reads one message into g_body; its header in hdr. A payload over XENSTORE_PAYLOAD_MAX means
/// the stream cannot be trusted any more.
long recv_message(xsd_sockmsg& hdr, uint64_t until) {
    if (long r = recv_bytes(&hdr, sizeof hdr, until); r != 0) return r;
    if (hdr.len > XENSTORE_PAYLOAD_MAX) {
        g_broken = true;
        return -kEIO;
    }
    if (long r = recv_bytes(g_body, hdr.len, until); r != 0) return r;
    g_body[hdr.len] = 0;
    return 0;
}

/// Sends a request made of `count` NUL-terminated strings (the last one's NUL omitted when
/// `last_raw`, as XS_WRITE's value is) and waits for its reply into g_body. Lock held.
long talk_locked(xsd_sockmsg_type type, uint32_t tx, const char* const* parts, int count, bool last_raw,
                 uint32_t& reply_len) {
    if (g_ring == nullptr || g_broken) return -kEIO;
    xsd_sockmsg hdr{};
    hdr.type = type;
    hdr.req_id = g_next_id++;
    hdr.tx_id = tx;
    uint32_t total = 0;
    for (int i = 0; i < count; ++i)
        total += static_cast<uint32_t>(strlen(parts[i])) + (last_raw && i == count - 1 ? 0 : 1);
    if (total > XENSTORE_PAYLOAD_MAX) return -kEIO;
    hdr.len = total;
    uint64_t until = deadline();
    if (long r = send_bytes(&hdr, sizeof hdr, until); r != 0) return r;
    for (int i = 0; i < count; ++i) {
        uint32_t n = static_cast<uint32_t>(strlen(parts[i])) + (last_raw && i == count - 1 ? 0 : 1);
        if (long r = send_bytes(parts[i], n, until); r != 0) return r;
    }
    for (;;) {
        xsd_sockmsg reply{};
        if (long r = recv_message(reply, until); r != 0) return r;
        if (reply.type == XS_WATCH_EVENT) {
            queue_event(reply.len);
            continue;
        }
        if (reply.req_id != hdr.req_id) continue;   // a stale reply of a request that timed out
        reply_len = reply.len;
        if (reply.type == XS_ERROR) return error_to_errno(g_body);
        return 0;
    }
}

long simple(xsd_sockmsg_type type, uint32_t tx, const char* const* parts, int count, bool last_raw = false) {
    LockGuard guard(g_lock);
    uint32_t len = 0;
    return talk_locked(type, tx, parts, count, last_raw, len);
}

}  // namespace

bool init(const char** reason) {
    uint64_t pfn = 0, port = 0;
    if (get_param(HVM_PARAM_STORE_PFN, pfn) != 0 || get_param(HVM_PARAM_STORE_EVTCHN, port) != 0 || pfn == 0 ||
        port == 0) {
        *reason = "no store ring (HVM_PARAM_STORE_PFN/EVTCHN)";
        return false;
    }
    if ((pfn << 12) + kPageSize > kDirectMapLimit) {
        *reason = "store ring outside the direct map";
        return false;
    }
    g_ring = phys_to_virt<xenstore_domain_interface>(pfn << 12);
    g_port = static_cast<evtchn_port_t>(port);
    evtchn::mask(g_port);   // polled, never dispatched
    return true;
}

bool ready() { return g_ring != nullptr && !g_broken; }

long read(const char* path, char* out, size_t cap, uint32_t tx) {
    LockGuard guard(g_lock);
    uint32_t len = 0;
    const char* parts[] = {path};
    if (long r = talk_locked(XS_READ, tx, parts, 1, false, len); r != 0) return r;
    if (cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(out, g_body, n);
        out[n] = 0;
    }
    return len;
}

long directory(const char* path, char* out, size_t cap, uint32_t tx) {
    LockGuard guard(g_lock);
    uint32_t len = 0;
    const char* parts[] = {path};
    if (long r = talk_locked(XS_DIRECTORY, tx, parts, 1, false, len); r != 0) return r;
    if (len > cap) return -kENOSPC;
    memcpy(out, g_body, len);
    return len;
}

long write(const char* path, const char* value, uint32_t tx) {
    const char* parts[] = {path, value};
    return simple(XS_WRITE, tx, parts, 2, true);
}

long mkdir(const char* path, uint32_t tx) {
    const char* parts[] = {path};
    return simple(XS_MKDIR, tx, parts, 1);
}

long remove(const char* path, uint32_t tx) {
    const char* parts[] = {path};
    return simple(XS_RM, tx, parts, 1);
}

long transaction_start(uint32_t& tx) {
    LockGuard guard(g_lock);
    uint32_t len = 0;
    const char* parts[] = {""};
    if (long r = talk_locked(XS_TRANSACTION_START, 0, parts, 1, false, len); r != 0) return r;
    uint64_t id = 0;
    for (const char* c = g_body; *c >= '0' && *c <= '9'; ++c) id = id * 10 + static_cast<uint64_t>(*c - '0');
    tx = static_cast<uint32_t>(id);
    return 0;
}

long transaction_end(uint32_t tx, bool commit) {
    const char* parts[] = {commit ? "T" : "F"};
    return simple(XS_TRANSACTION_END, tx, parts, 1);
}

long watch(const char* path, const char* token) {
    const char* parts[] = {path, token};
    return simple(XS_WATCH, 0, parts, 2);
}

long unwatch(const char* path, const char* token) {
    const char* parts[] = {path, token};
    return simple(XS_UNWATCH, 0, parts, 2);
}

bool next_event(char* path, size_t path_cap, char* token, size_t token_cap, uint64_t deadline_ns) {
    LockGuard guard(g_lock);
    while (g_event_count == 0) {
        if (g_ring == nullptr || g_broken) return false;
        // Take what the ring holds; wait on the port only when it is empty.
        XENSTORE_RING_IDX prod = __atomic_load_n(&g_ring->rsp_prod, __ATOMIC_ACQUIRE);
        if (prod == g_ring->rsp_cons && !evtchn::wait_port(g_port, deadline_ns)) return false;
        if (__atomic_load_n(&g_ring->rsp_prod, __ATOMIC_ACQUIRE) == g_ring->rsp_cons) continue;
        xsd_sockmsg msg{};
        if (recv_message(msg, deadline_ns) != 0) return false;
        if (msg.type == XS_WATCH_EVENT) queue_event(msg.len);
    }
    const Event& e = g_events[g_event_head];
    copy_string(path, path_cap, e.path);
    copy_string(token, token_cap, e.token);
    g_event_head = (g_event_head + 1) % kMaxEvents;
    --g_event_count;
    return true;
}

uint64_t dropped_events() { return g_dropped; }

}  // namespace pos::xen::store
