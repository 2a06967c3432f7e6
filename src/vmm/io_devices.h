#pragma once
/// The one place `--disk` and `--net` become devices. Each option first gets its host back end
/// (host::BlockFile, host::NetBackend: src/host/); then a non-Xen guest gets a virtio-blk or
/// virtio-net device on virtio-mmio for it (plus virtio-rng for --virtio-rng), and a --xen guest a
/// Xen virtual block device or vif (pv::VbdDevice, pv::VifDevice) in its PvDomain.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "host/block_file.h"
#include "host/net/net_backend.h"
#include "pv/backends/vbd_device.h"
#include "pv/backends/vif_device.h"
#include "vmm/vm_options.h"

namespace popek::devices::virtio {
class MmioDevices;
}

namespace popek::vmm {

/// The host side of one `--disk`, locked (host::BlockFile::lock_image) and a whole number of
/// sectors; errors name --disk.
Result<host::BlockFile> open_disk(const DiskOption& disk);
/// libslirp, a tap interface, or a unix datagram socket pair, as `net` says; errors name --net.
Result<std::unique_ptr<host::NetBackend>> open_net(const NetOption& net);

/// Non-Xen guests: each --disk a virtio-blk, each --net a virtio-net (MAC 52:54:00:12:34:56+n),
/// --virtio-rng a virtio-rng, in that order on virtio-mmio.
Result<void> add_virtio_devices(devices::virtio::MmioDevices& virtio, const VmOptions& options);

/// A --xen guest's disks and NICs: each --disk a vbd (xvda, xvdb, ...; with --driver-domain served
/// by its own `popek backend` process), each --net a vif (device/vif/0, 1, ... with Xen's OUI).
class XenIoDevices {
public:
    static Result<std::unique_ptr<XenIoDevices>> attach(pv::PvDomain& domain, const std::vector<DiskOption>& disks,
                                                        const std::vector<NetOption>& nets, bool driver_domain);
    /// Xen's virtual device number of the `index`th disk: xvda, xvdb, ... (docs/misc/vbd-interface).
    static uint32_t vbd_devid(size_t index) { return pv::VbdDevice::kXvda + static_cast<uint32_t>(index) * 16; }
    /// Stops the NICs' host back ends (no more frames for the vifs), then removes vifs and vbds
    /// (they unbind their channels and unmap their rings): before the domain goes.
    ~XenIoDevices();
    /// The vbds, then the vifs, in the order they were attached (snapshots: docs/snapshot.md "XDEV").
    std::vector<pv::XenbusBackend*> backends() const;
    /// The vbds and the vifs (metrics: docs/metrics.md "xen_block", "xen_net").
    std::vector<pv::VbdDevice*> vbds() const;
    std::vector<pv::VifDevice*> vifs() const;
    /// Holds every vif's host frames back while a snapshot is made.
    std::vector<std::unique_lock<std::mutex>> hold_rx();
    XenIoDevices(const XenIoDevices&) = delete;
    XenIoDevices& operator=(const XenIoDevices&) = delete;

private:
    XenIoDevices() = default;
    Result<void> attach_disks(pv::PvDomain& domain, const std::vector<DiskOption>& disks, bool driver_domain);
    Result<void> attach_nets(pv::PvDomain& domain, const std::vector<NetOption>& nets);

    std::vector<std::unique_ptr<pv::VbdDevice>> m_vbds;
    std::vector<std::unique_ptr<host::NetBackend>> m_net_backends;  ///< one per vif, same index
    std::vector<std::unique_ptr<pv::VifDevice>> m_vifs;
};

}  // namespace popek::vmm
