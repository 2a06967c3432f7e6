#include "vmm/io_devices.h"

#include "ddom/remote_blkif.h"
#include "devices/virtio/block.h"
#include "devices/virtio/entropy.h"
#include "devices/virtio/mmio_devices.h"
#include "devices/virtio/net.h"

namespace popek::vmm {

Result<host::BlockFile> open_disk(const DiskOption& disk) {
    auto file = disk.replay_bytes ? host::BlockFile::blank(disk.path, *disk.replay_bytes, disk.read_only)
                                       : host::BlockFile::open(disk.path, disk.read_only);
    if (!file) return std::unexpected(with_context(file.error(), "--disk"));
    // virtio-blk and blkif count 512-byte sectors: a tail would be invisible to the guest.
    if (file->size_bytes() % host::BlockFile::kSectorSize != 0)
        return fail("--disk: '{}' is {} bytes, not a whole number of {}-byte sectors", disk.path, file->size_bytes(),
                    host::BlockFile::kSectorSize);
    return file;
}

Result<std::unique_ptr<host::NetBackend>> open_net(const NetOption& net) {
    if (net.rr_replay && net.rr_wrap) return net.rr_wrap(nullptr);   // a replay opens no network
    Result<std::unique_ptr<host::NetBackend>> backend = [&] {
        switch (net.kind) {
            case NetOption::Kind::Tap: return host::make_tap_backend(net.tap_name);
            case NetOption::Kind::Dgram: return host::make_dgram_backend(net.dgram_local, net.dgram_remote);
            case NetOption::Kind::User: break;
        }
        return host::make_slirp_backend();
    }();
    if (!backend) return std::unexpected(with_context(backend.error(), "--net"));
    if (net.rr_wrap) return net.rr_wrap(std::move(*backend));
    return backend;
}

Result<void> add_virtio_devices(devices::virtio::MmioDevices& virtio, const VmOptions& options) {
    using namespace devices::virtio;
    for (const DiskOption& d : options.disks) {
        auto disk = TRY(open_disk(d));
        TRY(virtio.add(std::make_shared<Block>(std::move(disk))));
    }
    uint8_t nic = 0;
    for (const NetOption& n : options.nets) {
        auto backend = TRY(open_net(n));
        // QEMU's locally administered prefix, numbered per NIC.
        MacAddress mac{0x52, 0x54, 0x00, 0x12, 0x34, static_cast<uint8_t>(0x56 + nic++)};
        if (n.mac) mac = *n.mac;
        auto net = std::make_shared<Net>(std::move(backend), mac);
        TRY(virtio.add(net));
        if (auto r = net->start_backend(); !r) return std::unexpected(with_context(r.error(), "--net"));
    }
    if (options.virtio_rng) TRY(virtio.add(std::make_shared<Entropy>()));
    return {};
}

Result<std::unique_ptr<XenIoDevices>> XenIoDevices::attach(pv::PvDomain& domain, const std::vector<DiskOption>& disks,
                                                           const std::vector<NetOption>& nets, bool driver_domain) {
    std::unique_ptr<XenIoDevices> io(new XenIoDevices());
    TRY_VOID(io->attach_disks(domain, disks, driver_domain));
    TRY_VOID(io->attach_nets(domain, nets));
    return io;
}

XenIoDevices::~XenIoDevices() {
    for (auto& b : m_net_backends) b->stop();  // no more frames for the vifs
    m_vifs.clear();
    m_vbds.clear();
}

Result<void> XenIoDevices::attach_disks(pv::PvDomain& domain, const std::vector<DiskOption>& disks, bool driver_domain) {
    for (size_t i = 0; i < disks.size(); ++i) {
        auto file = TRY(open_disk(disks[i]));
        std::unique_ptr<pv::BlkifExecutor> remote;
        if (driver_domain)
            remote = TRY(ddom::RemoteBlkif::spawn(domain.grant_table(), ddom::kDriverDomain, file.fd(),
                                                  disks[i].read_only));
        auto vbd = std::make_unique<pv::VbdDevice>(domain, std::move(file), vbd_devid(i), std::move(remote),
                                                   driver_domain ? ddom::kDriverDomain : pv::kControlDomain);
        if (auto r = vbd->attach(); !r)
            return fail("--xen: cannot create the store nodes of vbd {} (errno {})", vbd_devid(i), r.error());
        m_vbds.push_back(std::move(vbd));
    }
    return {};
}

Result<void> XenIoDevices::attach_nets(pv::PvDomain& domain, const std::vector<NetOption>& nets) {
    for (size_t i = 0; i < nets.size(); ++i) {
        auto backend = TRY(open_net(nets[i]));
        host::NetBackend* host = backend.get();
        // Xen's OUI (00:16:3e), then "PK" and the vif number.
        pv::VifDevice::Mac mac{0x00, 0x16, 0x3e, 0x50, 0x4b, static_cast<uint8_t>(i)};
        if (nets[i].mac) mac = *nets[i].mac;
        const auto devid = static_cast<uint32_t>(i);
        auto vif = std::make_unique<pv::VifDevice>(domain, mac, [host](std::span<const uint8_t> f) { host->send(f); },
                                                   devid);
        if (auto r = vif->attach(); !r)
            return fail("--xen: cannot create the store nodes of vif {} (errno {})", devid, r.error());
        pv::VifDevice* v = vif.get();
        m_net_backends.push_back(std::move(backend));
        m_vifs.push_back(std::move(vif));
        TRY_VOID(host->start([v](std::span<const uint8_t> frame) { v->deliver(frame); }));
    }
    return {};
}

std::vector<pv::XenbusBackend*> XenIoDevices::backends() const {
    std::vector<pv::XenbusBackend*> out;
    for (const auto& v : m_vbds) out.push_back(v.get());
    for (const auto& v : m_vifs) out.push_back(v.get());
    return out;
}

std::vector<pv::VbdDevice*> XenIoDevices::vbds() const {
    std::vector<pv::VbdDevice*> out;
    for (const auto& v : m_vbds) out.push_back(v.get());
    return out;
}

std::vector<pv::VifDevice*> XenIoDevices::vifs() const {
    std::vector<pv::VifDevice*> out;
    for (const auto& v : m_vifs) out.push_back(v.get());
    return out;
}

std::vector<std::unique_lock<std::mutex>> XenIoDevices::hold_rx() {
    std::vector<std::unique_lock<std::mutex>> locks;
    for (const auto& v : m_vifs) locks.push_back(v->hold_rx());
    return locks;
}

}  // namespace popek::vmm
