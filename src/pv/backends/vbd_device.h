#pragma once
/// A Xen virtual block device: its store nodes and features (io/blkif.h "Feature and Parameter
/// Negotiation"; the XenBus handshake is XenbusBackend's, the ring connection RingDevice's), and
/// the data path (BlkifBackend) once connected, after which it publishes sectors/info.
#include <cstdint>
#include <string>

#include "pv/backends/blkif_backend.h"
#include "pv/backends/block_file.h"
#include "pv/backends/ring_device.h"

namespace popek::pv {

class VbdDevice final : public RingDevice {
public:
    /// 202 << 8: the first Xen virtual disk, xvda (docs/misc/vbd-interface).
    static constexpr uint32_t kXvda = 202 << 8;

    VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid = kXvda);
    ~VbdDevice() override;

    BlkifBackend::Stats stats();

private:
    PvResult<void> write_backend_nodes(Store& store, ConnId control) override;
    PvResult<void> write_frontend_nodes(Store& store, ConnId control) override;
    std::unique_ptr<RingBackend> start(std::span<uint8_t> ring) override;
    PvResult<void> write_connected_nodes(Store& store, ConnId control) override;

    BlockFile m_disk;
};

}  // namespace popek::pv
