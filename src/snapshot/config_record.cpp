#include "snapshot/config_record.h"

namespace popek::snapshot {

void encode_config(Writer& w, const vmm::VmOptions& o) {
    w.u32(static_cast<uint32_t>(o.cpus));
    w.u64(o.mem_mib);
    w.boolean(o.xen);
    w.boolean(o.test_device);
    w.boolean(o.virtio_rng);
    w.u32(o.bt_cache_mib);
    w.u32(static_cast<uint32_t>(o.disks.size()));
    for (const auto& d : o.disks) {
        w.str(d.path);
        w.boolean(d.read_only);
    }
    w.u32(static_cast<uint32_t>(o.nets.size()));
    for (const auto& n : o.nets) {
        w.u8(static_cast<uint8_t>(n.kind));
        w.str(n.tap_name);
        w.str(n.dgram_local);
        w.str(n.dgram_remote);
        w.boolean(n.mac.has_value());
        w.bytes(n.mac.value_or(std::array<uint8_t, 6>{}));
    }
    w.str(o.kernel_path);   // for people (docs): the kernel is in the memory file
    // --share: the restore serves the directory the restoring run names (--share), else this one.
    w.boolean(o.share.has_value());
    if (o.share) {
        w.str(o.share->path);
        w.boolean(o.share->read_only);
    }
    w.boolean(o.driver_domain);   // the restore starts fresh `popek backend` processes (docs/snapshot.md)
}

vmm::VmOptions decode_config(Reader& r) {
    vmm::VmOptions o;
    o.cpus = static_cast<int>(r.bounded<uint32_t>(r.u32(), 255, "the vCPU count"));
    if (r.ok() && o.cpus < 1) r.invalid("the vCPU count is 0");
    o.mem_mib = r.bounded<uint64_t>(r.u64(), uint64_t{1} << 22, "the RAM size in MiB");
    if (r.ok() && o.mem_mib < 2) r.invalid("the RAM size is {} MiB", o.mem_mib);
    o.xen = r.boolean();
    o.test_device = r.boolean();
    o.virtio_rng = r.boolean();
    o.bt_cache_mib = r.bounded<uint32_t>(r.u32(), 1024, "the bt cache size");
    if (r.ok() && o.bt_cache_mib < 1) r.invalid("the bt cache size is 0");
    const uint32_t disks = r.bounded(r.u32(), kMaxDevices, "the disk count");
    for (uint32_t i = 0; i < disks && r.ok(); ++i) {
        vmm::DiskOption d;
        d.path = r.str(kMaxPathBytes);
        d.read_only = r.boolean();
        if (r.ok() && d.path.empty()) r.invalid("disk {} has no path", i);
        o.disks.push_back(std::move(d));
    }
    const uint32_t nets = r.bounded(r.u32(), kMaxDevices, "the NIC count");
    for (uint32_t i = 0; i < nets && r.ok(); ++i) {
        vmm::NetOption n;
        n.kind = static_cast<vmm::NetOption::Kind>(r.bounded<uint8_t>(r.u8(), 2, "a NIC's kind"));
        n.tap_name = r.str(kMaxPathBytes);
        n.dgram_local = r.str(kMaxPathBytes);
        n.dgram_remote = r.str(kMaxPathBytes);
        const bool has_mac = r.boolean();
        std::array<uint8_t, 6> mac{};
        r.bytes(mac);
        if (has_mac) n.mac = mac;
        o.nets.push_back(std::move(n));
    }
    o.kernel_path = r.str(kMaxPathBytes);
    if (r.boolean() && r.ok()) {
        vmm::ShareOption s;
        s.path = r.str(kMaxPathBytes);
        s.read_only = r.boolean();
        if (r.ok() && s.path.empty()) r.invalid("the --share directory has no path");
        if (r.ok() && !o.xen) r.invalid("--share without --xen");
        o.share = std::move(s);
    }
    o.driver_domain = r.boolean();
    if (r.ok() && o.driver_domain && !o.xen) r.invalid("--driver-domain without --xen");
    return o;
}

}  // namespace popek::snapshot
