#include "vmm/vm_snapshot.h"

#include <sys/stat.h>

#include "devices/virtio/mmio_devices.h"
#include "emu/engine_shared.h"
#include "snapshot/config_record.h"
#include "snapshot/engine_state.h"
#include "snapshot/mem_file.h"
#include "vmm/board.h"
#include "vmm/xen_platform.h"

namespace popek::vmm {
snapshot::EngineParts snapshot_parts(emu::EngineShared& engine, Board& board) {
    snapshot::EngineParts p{&engine, &board.uart(), &board.cmos(), &board.i8042(), &board.acpi_pm(), {}};
    if (auto* v = board.virtio())
        for (const auto& t : v->transports()) p.virtio.push_back(t.get());
    return p;
}

Result<void> check_snapshot_support(const VmOptions& options) {
    if (options.accel == hv::Accel::Kvm)
        return fail("snapshots are not supported yet on --accel kvm (use --accel interp or bt; docs/snapshot.md)");
    if (!options.pci_devices.empty() || options.iommu)
        return fail("snapshots do not save PCI devices or the IOMMU yet (--device, --iommu)");
    return {};
}

Result<uint64_t> create_snapshot(hv::Vm& vm, Board& board, XenPlatform* xen, const memory::GuestMemory& mem,
                                 const VmOptions& options, const SnapshotFiles& files) {
    TRY_VOID(check_snapshot_support(options));
    if (options.xen && !xen) return fail("the VM's Xen platform is missing");
    emu::EngineShared* engine = vm.own_engine();
    if (!engine || !engine->platform) return fail("snapshots need the own engine (--accel interp or bt)");
    if (files.snapshot_path.empty() || files.mem_file_path.empty()) return fail("the snapshot and memory file paths are required");
    if (files.snapshot_path == files.mem_file_path) return fail("the snapshot and the memory file must be two files");
    snapshot::Image image;
    image.header.popek_version = POPEK_VERSION;
    image.header.ram_bytes = mem.size();
    image.header.vcpus = static_cast<uint32_t>(options.cpus);
    snapshot::Writer conf;
    snapshot::encode_config(conf, options);
    image.sections.push_back({snapshot::tags::kConfig, 0, std::move(conf.buffer())});
    for (auto& s : snapshot::save_engine_state(snapshot_parts(*engine, board))) image.sections.push_back(std::move(s));
    // The Xen platform's host-side threads (timers, console input, network frames) stay off the
    // guest's rings and pages while both its state and guest RAM are written.
    std::optional<XenPlatform::Hold> held;
    if (xen) {
        held = xen->hold();
        for (auto& s : TRY(xen->save_state(*held))) image.sections.push_back(std::move(s));
    }
    const auto stats = TRY(snapshot::write_mem_file(mem, files.mem_file_path));
    TRY_VOID(snapshot::write_file(files.snapshot_path, snapshot::encode(image)));
    return stats.bytes_written;
}

Result<RestorePlan> RestorePlan::open(const VmOptions& options) {
    if (options.restore_mem_path.empty()) return fail("--restore needs --restore-mem (the snapshot's memory file)");
    TRY_VOID(check_snapshot_support(options));
    const auto bytes = TRY(snapshot::read_file(options.restore_path));
    RestorePlan plan;
    auto image = snapshot::decode(bytes, POPEK_VERSION);
    if (!image) return std::unexpected(with_context(image.error(), options.restore_path));
    plan.m_image = std::move(*image);
    const snapshot::Section* conf = plan.m_image.find(snapshot::tags::kConfig);
    if (!conf) return fail("{}: the snapshot has no `CONF` section", options.restore_path);
    snapshot::Reader r(conf->payload);
    VmOptions described = snapshot::decode_config(r);
    TRY_VOID(r.finish(fmt::format("{}: section `CONF`", options.restore_path)));
    if (plan.m_image.header.ram_bytes != described.mem_mib << 20 ||
        plan.m_image.header.vcpus != static_cast<uint32_t>(described.cpus))
        return fail("{}: the header ({} bytes of RAM, {} vCPUs) disagrees with the `CONF` section", options.restore_path,
                    plan.m_image.header.ram_bytes, plan.m_image.header.vcpus);
    // The engine and everything about the console and debugging are this run's.
    described.accel = options.accel;
    described.stats = options.stats;
    described.perf_map = options.perf_map;
    described.gdb = options.gdb;
    described.gdb_wait = options.gdb_wait;
    described.log_path = options.log_path;
    described.metrics_path = options.metrics_path;
    described.serial_out = options.serial_out;
    described.serial_input = options.serial_input;
    described.serial_in_fd = options.serial_in_fd;
    described.kernel_path.clear();   // recorded for people; the kernel is in the memory file
    // --share: the restoring run may serve another directory (the open files are reopened by
    // their paths beneath it); read-only or not is the snapshot's (the guest was told which).
    if (options.share) {
        if (!described.share)
            return fail("{}: the snapshot's VM has no --share, yet --share {} was given", options.restore_path, options.share->path);
        if (options.share->read_only != described.share->read_only)
            return fail("{}: the snapshot's --share was {}, --share {} is not", options.restore_path,
                        described.share->read_only ? "read-only" : "writable", options.share->path);
        described.share->path = options.share->path;
    }
    described.restore_path = options.restore_path;
    described.restore_mem_path = options.restore_mem_path;
    TRY_VOID(check_snapshot_support(described));
    plan.m_options = std::move(described);
    // The memory file is checked now too: a wrong one stops the restore before anything is built.
    struct stat st {};
    if (::stat(options.restore_mem_path.c_str(), &st) != 0) return fail_errno("--restore-mem `{}`", options.restore_mem_path);
    if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != plan.m_image.header.ram_bytes)
        return fail("--restore-mem `{}` is {} bytes, but the snapshot's guest has {} bytes of RAM", options.restore_mem_path,
                    st.st_size, plan.m_image.header.ram_bytes);
    return plan;
}

Result<void> RestorePlan::load_memory(const memory::GuestMemory& mem, std::initializer_list<uint64_t> written) const {
    if (mem.size() != m_image.header.ram_bytes) return fail("guest RAM is {} bytes, the snapshot's {}", mem.size(), m_image.header.ram_bytes);
    // The memory file leaves zero pages out (holes): a page written before the load must read
    // as the file says, zero included.
    for (uint64_t pfn : written)
        if (auto page = mem.slice(pfn << 12, 4096)) std::fill(page->begin(), page->end(), uint8_t{0});
    TRY_VOID(snapshot::load_mem_file(mem, m_options.restore_mem_path));
    return {};
}

Result<void> RestorePlan::apply(hv::Vm& vm, Board& board, XenPlatform* xen) const {
    emu::EngineShared* engine = vm.own_engine();
    if (!engine || !engine->platform) return fail("snapshots need the own engine (--accel interp or bt)");
    auto r = snapshot::load_engine_state(m_image, snapshot_parts(*engine, board));
    if (r && xen) r = xen->load_state(m_image);
    if (r && !xen)
        for (const auto& s : m_image.sections)
            if (s.tag == snapshot::tags::kXen || s.tag == snapshot::tags::kEventChannels ||
                s.tag == snapshot::tags::kGrantTable || s.tag == snapshot::tags::kXenStore ||
                s.tag == snapshot::tags::kXenDevice || s.tag == snapshot::tags::kShare) {
                r = fail("section `{}` is for a Xen platform, and this VM has none", snapshot::tag_name(s.tag));
                break;
            }
    if (!r) return std::unexpected(with_context(r.error(), m_options.restore_path));
    return {};
}

}  // namespace popek::vmm
