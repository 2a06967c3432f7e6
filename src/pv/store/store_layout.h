#pragma once
/// The nodes a Xen toolstack creates for a domain before it boots, so that a guest finds what it
/// expects (xl's layout; docs/misc/xenstore-paths.markdown in Xen): /local/domain/<id> readable by
/// the domain, name/domid/memory/cpu read-only to it, device/control/data/... writable by it.
#include <cstdint>
#include <string>

#include "pv/store/store.h"

namespace popek::pv {

struct DomainLayout {
    DomId domid = 1;
    std::string name = "popek-guest";
    uint64_t memory_kib = 0;  ///< memory/target and memory/static-max
    uint32_t vcpus = 1;       ///< cpu/<n>/availability = "online"
};

/// Creates /local/domain/0 (the control domain, "Domain-0") and the guest's home as above.
/// `control` must be a control-domain connection. Fails only on a store error (a bug).
XsResult<void> create_domain_layout(Store& store, ConnId control, const DomainLayout& layout);

/// Permission lists used by the layout: the domain may read / may read and write.
Perms read_only_for(DomId domid);
Perms read_write_for(DomId domid);

}  // namespace popek::pv
