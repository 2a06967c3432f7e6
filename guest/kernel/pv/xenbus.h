#pragma once
/// The front-end half of the XenBus protocol (io/xenbus.h, docs/misc/xenstore-paths): a device's
/// front-end directory device/<type>/<id>, its back end's directory and domain, the state nodes.
#include "pv/xen_abi.h"

namespace pos::xen {

struct XenbusDevice {
    char frontend[64];   ///< device/<type>/<id> (relative to this domain's home)
    char backend[128];   ///< absolute back-end directory
    domid_t backend_id;
};

/// Builds `dir/node` into out.
const char* xenbus_path(char* out, size_t cap, const char* dir, const char* node);
/// Finds device <type>/<id>: its backend and backend-id nodes. -ENOENT if there is no such device.
long xenbus_open(XenbusDevice& dev, const char* type, const char* id);
long xenbus_read_u64(const char* dir, const char* node, uint64_t& value);
long xenbus_write_u64(uint32_t tx, const char* dir, const char* node, uint64_t value);
long xenbus_switch_state(const XenbusDevice& dev, XenbusState state);
/// One front-end node to publish: device/<type>/<id>/<name> = value.
struct XenbusNode {
    const char* name;
    const char* value;
};
/// Writes `nodes` and then state = `state` in one store transaction, retried on conflict
/// (EAGAIN), as front ends publish their rings (io/blkif.h, io/netif.h "Initialised").
long xenbus_publish(const XenbusDevice& dev, const XenbusNode* nodes, size_t count, XenbusState state);

/// Waits (store watch on the back end's state) until the back end reaches `want`, Closing or
/// Closed, or `timeout_ms` passes; the last state seen or a negative errno.
long xenbus_wait_backend(const XenbusDevice& dev, XenbusState want, uint64_t timeout_ms);

}  // namespace pos::xen
