#include "cli/fc_options.h"

#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vmm/input_file.h"

namespace popek::cli {

std::string resolve_accel(const std::string& accel) {
    if (accel != "auto") return accel;
    return ::access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "interp";
}

Result<vmm::VmOptions> to_vm_options(const vmm::fc::Config& c) {
    vmm::VmOptions o;
    if (!c.boot_source) return fail("no boot source: PUT /boot-source (or `boot-source` in the config) first");
    const vmm::fc::PopekExtras& p = c.popek;
    o.accel = TRY(hv::parse_accel(resolve_accel(p.accel)));
    o.xen = p.xen;
    o.kernel_path = c.boot_source->kernel_image_path;
    o.initrd_path = c.boot_source->initrd_path;
    o.cmdline = c.boot_source->boot_args;
    o.cpus = static_cast<int>(c.machine.vcpu_count);
    o.mem_mib = c.machine.mem_size_mib;
    for (const vmm::fc::Drive& d : c.drives) o.disks.push_back(vmm::DiskOption{d.path_on_host, d.is_read_only, {}});
    // Firecracker names the root device on the kernel command line itself (vmm/src/builder.rs);
    // it is the first block device: /dev/vda, or the first vbd (/dev/xvda) under Xen.
    if (!c.drives.empty() && c.drives.front().is_root_device) {
        const char* dev = p.xen ? "/dev/xvda" : "/dev/vda";
        o.cmdline += fmt::format("{}root={} {}", o.cmdline.empty() ? "" : " ", dev, c.drives.front().is_read_only ? "ro" : "rw");
    }
    for (const vmm::fc::NetworkInterface& n : c.nets) {
        vmm::NetOption net{vmm::NetOption::Kind::Tap, n.host_dev_name, {}, {}, n.guest_mac};
        o.nets.push_back(std::move(net));
    }
    for (const std::string& spec : p.net) {
        auto net = parse_net(spec);
        if (!net) return std::unexpected(with_context(net.error(), "popek: `net`"));
        o.nets.push_back(*net);
    }
    if (!p.share.empty()) {
        if (!p.xen) return fail("popek: `share` needs `\"xen\": true` (it is a Xen PV device)");
        auto share = parse_share(p.share);
        if (!share) return std::unexpected(with_context(share.error(), "popek: `share`"));
        o.share = *share;
    }
    if (p.driver_domain && !p.xen) return fail("popek: `driver-domain` needs `\"xen\": true`");
    if (p.driver_domain && c.drives.empty()) return fail("popek: `driver-domain` serves drives: give at least one drive");
    o.driver_domain = p.driver_domain;
    o.virtio_rng = p.rng || c.entropy;
    if (o.virtio_rng && o.xen) return fail("`entropy` / popek `rng` is a virtio device, which Xen guests do not get");
    o.test_device = p.test_dev;
    o.stats = p.stats;
    o.bt_cache_mib = static_cast<uint32_t>(p.bt_cache_mib);
    if (c.logger) o.log_path = c.logger->log_path;
    if (c.metrics) o.metrics_path = c.metrics->metrics_path;
    return o;
}

vmm::VmOptions with_cli_extras(vmm::VmOptions described, const vmm::VmOptions& cli) {
    described.stats = described.stats || cli.stats;
    described.perf_map = cli.perf_map;
    described.bt_warm = cli.bt_warm;
    described.gdb = cli.gdb;
    described.gdb_wait = cli.gdb_wait;
    described.record_path = cli.record_path;
    described.replay_path = cli.replay_path;
    described.rr_snapshot_interval = cli.rr_snapshot_interval;
    described.rr_snapshots = cli.rr_snapshots;
    described.serial_out = cli.serial_out;
    described.serial_input = cli.serial_input;
    described.serial_in_fd = cli.serial_in_fd;
    return described;
}

Result<vmm::VmOptions> load_config_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > vmm::fc::kMaxConfigFileBytes)
        return fail("config file '{}' is {} bytes, more than the {} allowed", path, st.st_size, vmm::fc::kMaxConfigFileBytes);
    auto file = vmm::read_input_file(path, "config file", vmm::fc::kMaxConfigFileBytes);
    if (!file) return std::unexpected(file.error());
    auto bytes = file->bytes();
    auto config = vmm::fc::parse_config(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (!config) return std::unexpected(with_context(config.error(), path));
    auto options = to_vm_options(*config);
    if (!options) return std::unexpected(with_context(options.error(), path));
    return options;
}

}  // namespace popek::cli
