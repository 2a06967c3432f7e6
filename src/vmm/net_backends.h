#pragma once
/// The host side of a `--net` option, for virtio-net (board.cpp) and the Xen vif (xen_platform.cpp).
#include <memory>

#include "devices/virtio/net_backend.h"
#include "vmm/vm_options.h"

namespace popek::vmm {

/// libslirp, a tap interface, or a unix datagram socket pair, as `net` says; errors name --net.
Result<std::unique_ptr<devices::virtio::NetBackend>> make_net_backend(const NetOption& net);

}  // namespace popek::vmm
