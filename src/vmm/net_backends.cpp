#include "vmm/net_backends.h"

namespace popek::vmm {

Result<std::unique_ptr<devices::virtio::NetBackend>> make_net_backend(const NetOption& net) {
    using namespace devices::virtio;
    Result<std::unique_ptr<NetBackend>> backend = [&] {
        switch (net.kind) {
            case NetOption::Kind::Tap: return make_tap_backend(net.tap_name);
            case NetOption::Kind::Dgram: return make_dgram_backend(net.dgram_local, net.dgram_remote);
            case NetOption::Kind::User: break;
        }
        return make_slirp_backend();
    }();
    if (!backend) return std::unexpected(with_context(backend.error(), "--net"));
    return backend;
}

}  // namespace popek::vmm
