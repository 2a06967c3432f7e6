#include "pv/xenbus.h"

#include "common/format.h"
#include "common/string.h"
#include "pv/xen_clock.h"
#include "pv/xenstore.h"

namespace pos::xen {
namespace {

bool parse_u64(const char* s, uint64_t& value) {
    if (*s == 0) return false;
    uint64_t v = 0;
    for (; *s != 0; ++s) {
        if (*s < '0' || *s > '9' || v > (~uint64_t{0} - 9) / 10) return false;
        v = v * 10 + static_cast<uint64_t>(*s - '0');
    }
    value = v;
    return true;
}

}  // namespace

const char* xenbus_path(char* out, size_t cap, const char* dir, const char* node) {
    format(out, cap, "%s/%s", dir, node);
    return out;
}

long xenbus_open(XenbusDevice& dev, const char* type, const char* id) {
    format(dev.frontend, sizeof dev.frontend, "device/%s/%s", type, id);
    char path[192];
    long r = store::read(xenbus_path(path, sizeof path, dev.frontend, "backend"), dev.backend, sizeof dev.backend);
    if (r < 0) return r;
    if (static_cast<size_t>(r) >= sizeof dev.backend) return -kEIO;
    uint64_t backend_id = 0;
    if (long e = xenbus_read_u64(dev.frontend, "backend-id", backend_id); e < 0) return e;
    if (backend_id >= DOMID_FIRST_RESERVED) return -kEIO;
    dev.backend_id = static_cast<domid_t>(backend_id);
    return 0;
}

long xenbus_read_u64(const char* dir, const char* node, uint64_t& value) {
    char path[192], buf[32];
    long r = store::read(xenbus_path(path, sizeof path, dir, node), buf, sizeof buf);
    if (r < 0) return r;
    return static_cast<size_t>(r) < sizeof buf && parse_u64(buf, value) ? 0 : -kEIO;
}

long xenbus_write_u64(uint32_t tx, const char* dir, const char* node, uint64_t value) {
    char path[192], buf[24];
    format(buf, sizeof buf, "%lu", value);
    return store::write(xenbus_path(path, sizeof path, dir, node), buf, tx);
}

long xenbus_switch_state(const XenbusDevice& dev, XenbusState state) {
    return xenbus_write_u64(0, dev.frontend, "state", static_cast<uint64_t>(state));
}

long xenbus_publish(const XenbusDevice& dev, const XenbusNode* nodes, size_t count, XenbusState state) {
    char path[192];
    long r = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        uint32_t tx = 0;
        if ((r = store::transaction_start(tx)) < 0) return r;
        for (size_t i = 0; i < count && r >= 0; ++i)
            r = store::write(xenbus_path(path, sizeof path, dev.frontend, nodes[i].name), nodes[i].value, tx);
        if (r >= 0) r = xenbus_write_u64(tx, dev.frontend, "state", static_cast<uint64_t>(state));
        if (r < 0) {
            store::transaction_end(tx, false);
            return r;
        }
        r = store::transaction_end(tx, true);
        if (r != -kEAGAIN) break;
    }
    return r;
}

long xenbus_wait_backend(const XenbusDevice& dev, XenbusState want, uint64_t timeout_ms) {
    char path[192], ev_path[128], token[32];
    xenbus_path(path, sizeof path, dev.backend, "state");
    if (long r = store::watch(path, "be-state"); r < 0) return r;
    uint64_t until = clock::now_ns() + timeout_ms * 1000000;
    long seen = -kETIME;
    for (;;) {
        uint64_t state = 0;
        if (xenbus_read_u64(dev.backend, "state", state) == 0) {
            seen = static_cast<long>(state);
            if (state == want || state == XenbusStateClosing || state == XenbusStateClosed) break;
        }
        if (!store::next_event(ev_path, sizeof ev_path, token, sizeof token, until)) break;
    }
    store::unwatch(path, "be-state");
    return seen;
}

}  // namespace pos::xen
