#include "vmm/machine.h"
#include "host/privilege_drop.h"
#include "host/thread_confinement.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/ranges.h>

#include "acpi/acpi_tables.h"
#include "bus/bus.h"
#include "loader/loader.h"
#include "devices/virtio/mmio_devices.h"
#include "emu/determinism.h"
#include "emu/irqchip/platform.h"
#include "gdb/gdb_server.h"
#include "replay/history.h"
#include "replay/recorded_net.h"
#include "replay/recorded_share.h"
#include "replay/session.h"
#include "devices/legacy/uart_8250.h"
#include "vmm/acpi_sleep.h"
#include "vmm/board.h"
#include "vmm/exit_dispatcher.h"
#include "vmm/exit_status.h"
#include "vmm/input_file.h"
#include "vmm/io_devices.h"
#include "vmm/pci_platform.h"
#include "vmm/stats_report.h"
#include "vmm/vm_lifecycle.h"
#include "vmm/vm_metrics.h"
#include "vmm/vm_snapshot.h"
#include "vmm/xen_platform.h"

namespace popek::vmm {
using devices::ExitCause;
namespace {

Result<void> check_memory_size(uint64_t mem_mib) {
    if (mem_mib < 2) return fail("--mem {} MiB is too small (minimum 2 MiB)", mem_mib);
    struct sysinfo si {};
    if (::sysinfo(&si) != 0) return fail_errno("sysinfo");
    uint64_t host_mib = uint64_t{si.totalram} * si.mem_unit >> 20;
    if (mem_mib > host_mib)
        return fail("--mem {} MiB is more than this host's memory ({} MiB)", mem_mib, host_mib);
    return {};
}

void write_stdout(std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return;  // stdout closed: drop guest output rather than stop the guest
        }
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
}

/// What a vCPU's loop does after one exit.
enum class AfterExit { Run, Yielded, Done, Halted };

/// Runs `vcpu` once and handles its exit: dispatch I/O (with the session's checkpoints), stop
/// the VM on anything final. Done: this vCPU runs no more (the VM is ending); Halted: it halted
/// for good (hv::Halt) and waits for the end. `yield`: a hv::Yield's details (serialized runs).
AfterExit run_once(hv::Vcpu& vcpu, ExitDispatcher& dispatcher, VmLifecycle& life, VcpuExitCounts& counts, AcpiSleep& sleep,
                   replay::Session* session, hv::Yield* yield = nullptr) {
    auto exit = vcpu.run();
    if (!exit) {
        life.request_exit(ExitCause::VcpuError, kExitVmError, fmt::format("vCPU {}: {}", vcpu.index(), exit.error().message));
        return AfterExit::Done;
    }
    if (auto* y = std::get_if<hv::Yield>(&*exit)) {
        // Another vCPU's turn (emu/determinism.h): nothing to dispatch, no checkpoint.
        if (yield) *yield = *y;
        return AfterExit::Yielded;
    }
    counts.count(*exit);
    bool may_write_ram = true;   // false: the device that took the exit wrote no guest RAM
    if (session) {
        // Every exit is a checkpoint; a read's answer is logged or comes from the log.
        auto before = session->before_dispatch(vcpu, *exit);
        const bool handled = before && dispatcher.dispatch(vcpu.index(), *exit, &may_write_ram);
        auto after = before && handled ? session->after_dispatch(*exit) : Result<void>{};
        if (!before || !after) {
            life.request_exit(ExitCause::VcpuError, kExitVmError, (!before ? before : after).error().message);
            return AfterExit::Done;
        }
        if (handled && !may_write_ram) vcpu.exit_wrote_no_ram();
        if (handled && sleep.take_request()) {
            // S3 sleeps on the host clock until the RTC alarm: not recorded (docs/record-replay.md).
            life.request_exit(ExitCause::VcpuError, kExitVmError, "the guest entered ACPI S3, which --record/--replay do not support yet");
            return AfterExit::Done;
        }
        if (handled) return AfterExit::Run;
    } else if (dispatcher.dispatch(vcpu.index(), *exit, &may_write_ram)) {
        if (!may_write_ram) vcpu.exit_wrote_no_ram();
        // The exit entered S3 (PM1_CNT): this vCPU sleeps, then resumes at the waking vector.
        if (sleep.take_request() && !sleep.sleep_and_resume(vcpu)) return AfterExit::Done;
        return AfterExit::Run;
    }
    if (auto* sd = std::get_if<hv::Shutdown>(&*exit)) {
        if (sd->reason == hv::Shutdown::TripleFault) life.request_exit(ExitCause::TripleFault, kExitOk, "triple-fault");
        if (sd->reason == hv::Shutdown::AllVcpusDown)
            life.request_exit(ExitCause::VcpuError, kExitVmError, "every vCPU halted with interrupts off (cli; hlt): the Xen guest "
                                            "crashed, and Xen ends such a domain");
        return AfterExit::Done;  // Stopped: the VM is ending
    }
    if (auto* ie = std::get_if<hv::InternalError>(&*exit)) {
        life.request_exit(ExitCause::VcpuError, kExitVmError, fmt::format("vCPU {}: {}", vcpu.index(), ie->reason));
        return AfterExit::Done;
    }
    // hv::Halt: halted with nothing that can wake it (no in-kernel irqchip): idle until the VM ends.
    return AfterExit::Halted;
}

/// One vCPU's thread body: run, dispatch I/O, stop the VM on anything final.
void vcpu_loop(hv::Vcpu& vcpu, ExitDispatcher& dispatcher, VmLifecycle& life, VcpuExitCounts& counts, AcpiSleep& sleep,
               replay::Session* session) {
    emu::t_determinism = session;   // --record / --replay (emu/determinism.h)
    AfterExit next = AfterExit::Run;
    while (next == AfterExit::Run || next == AfterExit::Yielded) next = run_once(vcpu, dispatcher, life, counts, sleep, session);
    if (next == AfterExit::Halted) life.wait();
}

/// `--record` / `--replay` with more than one vCPU (emu/determinism.h): every vCPU on this one
/// thread, round-robin in index order, each until it yields (the end of its quantum, or idle).
/// When a whole round found every vCPU idle, the session idles: virtual time jumps to the
/// earliest deadline, console input and network frames are fed there. So the interleaving is a
/// function of the instruction streams, the same in the recording and every replay.
void serialized_vcpus_loop(std::span<const std::unique_ptr<hv::Vcpu>> vcpus, ExitDispatcher& dispatcher, VmLifecycle& life,
                           VcpuExitCounts* counts, AcpiSleep& sleep, replay::Session& session) {
    emu::t_determinism = &session;
    std::vector<bool> done(vcpus.size(), false);
    bool halted = false;   // a vCPU halted for good: wait for the end of the VM at the end
    for (;;) {
        bool all_idle = true, any = false;
        uint64_t deadline = UINT64_MAX;
        for (size_t i = 0; i < vcpus.size(); ++i) {
            if (done[i]) continue;
            any = true;
            hv::Yield y;
            AfterExit next = AfterExit::Run;
            while (next == AfterExit::Run) next = run_once(*vcpus[i], dispatcher, life, counts[i], sleep, &session, &y);
            if (next == AfterExit::Done || next == AfterExit::Halted) {
                done[i] = true;
                halted = halted || next == AfterExit::Halted;
                continue;
            }
            all_idle = all_idle && y.idle;
            if (y.idle) deadline = std::min(deadline, y.deadline);
        }
        if (!any) break;
        if (all_idle && !life.exiting()) session.idle(deadline);
    }
    if (halted) life.wait();
}

/// What the API socket may do to the VM while it runs.
class MachineControl final : public RunningVm {
public:
    MachineControl(hv::Vm& vm, Board& board, XenPlatform* xen, const memory::GuestMemory& mem, const VmOptions& options,
                   MetricsSources metrics)
        : m_vm(vm), m_board(board), m_xen(xen), m_mem(mem), m_options(options), m_metrics(metrics) {}
    nlohmann::json metrics() override { return collect_metrics(m_metrics); }
    Result<void> pause() override { return m_vm.pause(); }
    Result<void> resume() override { return m_vm.resume(); }
    Result<void> send_ctrl_alt_del() override {
        m_board.send_ctrl_alt_del();
        return {};
    }
    Result<uint64_t> create_snapshot(const std::string& snapshot_path, const std::string& mem_file_path) override {
        return vmm::create_snapshot(m_vm, m_board, m_xen, m_mem, m_options, SnapshotFiles{snapshot_path, mem_file_path});
    }

private:
    hv::Vm& m_vm;
    Board& m_board;
    XenPlatform* m_xen;
    const memory::GuestMemory& m_mem;
    const VmOptions& m_options;
    MetricsSources m_metrics;
};

/// Tells the observer (if any) that the VM stops, on every way out of run_vm once it started.
struct ObserverGuard {
    VmObserver* observer = nullptr;
    ~ObserverGuard() {
        if (observer) observer->stopping();
    }
};

/// The value of a replay log's `key=N` line, 0 when the log has none (check_config then names
/// the differing line).
uint64_t recorded_value(const std::string& config, std::string_view key) {
    for (size_t at = 0; at < config.size();) {
        const size_t end = std::min(config.find('\n', at), config.size());
        const std::string_view line(config.data() + at, end - at);
        at = end + 1;
        if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != '=') continue;
        uint64_t v = 0;
        const std::string_view digits = line.substr(key.size() + 1);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        return ec == std::errc{} && p == digits.data() + digits.size() ? v : 0;
    }
    return 0;
}

/// What a recording or replay changes in the VM it builds.
struct RrSetup {
    std::vector<DiskOption> disks;   ///< a replay's are blank stand-ins of the recorded sizes
    std::vector<NetOption> nets;     ///< their host side wrapped (replay/recorded_net.h)
    std::optional<ShareOption> share;   ///< its answers logged or replayed (replay/recorded_share.h)
    std::unique_ptr<replay::RecordedShare> share_journal;
    std::optional<uint64_t> xen_boot_unix_ns;   ///< --xen: the wall clock at boot, the recording's
};

/// `--record` / `--replay`: what the own engine cannot make deterministic yet is refused. The
/// log names the back ends, with each disk's size and a Xen guest's wall clock at boot, which a
/// replay takes from the log (no host file is opened, the host clock is not read).
Result<std::unique_ptr<replay::Session>> open_replay_session(const VmOptions& opt, RrSetup& setup) {
    setup.disks = opt.disks;
    setup.nets = opt.nets;
    setup.share = opt.share;
    const bool record = !opt.record_path.empty(), replay = !opt.replay_path.empty();
    if (!record && !replay) return std::unique_ptr<replay::Session>{};
    const char* flag = record ? "--record" : "--replay";
    if (record && replay) return fail("--record and --replay cannot be given together");
    if (opt.accel == hv::Accel::Kvm) return fail("{} needs the own engine (--accel interp or bt)", flag);
    if (opt.cpus != 1 && opt.xen)
        return fail("{} with --xen supports one vCPU only (--cpus 1): a Xen vCPU blocks inside its hypercall", flag);
    if (opt.cpus != 1 && !opt.gdb.empty())
        return fail("--replay with --gdb supports one vCPU only (--cpus 1)");
    if (!opt.pci_devices.empty() || opt.iommu)
        return fail("{}: --device and --iommu are not recorded yet (docs/record-replay.md)", flag);
    if (opt.nets.size() > 255) return fail("{}: at most 255 --net", flag);
    if (opt.driver_domain) return fail("{} cannot be combined with --driver-domain", flag);
    if (record && !opt.gdb.empty()) return fail("--record cannot be combined with --gdb (debug the replay: --replay FILE --gdb ...)");
    if (!opt.restore_path.empty()) return fail("{} cannot be combined with --restore yet", flag);
    std::unique_ptr<replay::Session> session;
    if (replay) session = TRY(replay::Session::replay(opt.replay_path));
    auto logged = [&](const std::string& key, auto now) -> uint64_t {
        return record ? static_cast<uint64_t>(now()) : recorded_value(session->recorded_config(), key);
    };
    std::string devices;
    for (size_t i = 0; i < setup.disks.size(); ++i) {
        DiskOption& d = setup.disks[i];
        const std::string key = fmt::format("disk{}_bytes", i);
        uint64_t bytes = 0;
        if (record) {
            bytes = TRY(open_disk(d)).size_bytes();
        } else {
            bytes = recorded_value(session->recorded_config(), key);
            d.replay_bytes = bytes;
        }
        devices += fmt::format("disk{}={},{}\n{}={}\n", i, d.path, d.read_only ? "ro" : "rw", key, bytes);
    }
    for (size_t i = 0; i < setup.nets.size(); ++i) {
        NetOption& n = setup.nets[i];
        std::string what = n.kind == NetOption::Kind::Tap     ? "tap=" + n.tap_name
                           : n.kind == NetOption::Kind::Dgram ? "dgram=" + n.dgram_local + "," + n.dgram_remote
                                                              : "user";
        if (n.mac) what += fmt::format(",mac={:02x}", fmt::join(*n.mac, ":"));
        devices += fmt::format("net{}={}\n", i, what);
    }
    if (opt.virtio_rng) devices += "rng=1\n";
    if (opt.share) devices += fmt::format("share={},{}\n", opt.share->path, opt.share->read_only ? "ro" : "rw");
    if (opt.xen) {
        setup.xen_boot_unix_ns = logged("xen_boot_unix_ns", [] {
            return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        });
        devices += fmt::format("xen=1\nxen_boot_unix_ns={}\n", *setup.xen_boot_unix_ns);
    }
    const std::string config = replay::describe_vm_for_log(opt.accel, opt.mem_mib, opt.cpus, opt.kernel_path, opt.initrd_path,
                                                           opt.cmdline, opt.test_device, devices);
    if (record) session = TRY(replay::Session::record(opt.record_path, config));
    else TRY_VOID(session->check_config(config));
    for (NetOption& n : setup.nets) {
        n.rr_replay = replay;
        n.rr_wrap = [s = session.get()](std::unique_ptr<host::NetBackend> real) -> std::unique_ptr<host::NetBackend> {
            return std::make_unique<replay::RecordedNet>(*s, std::move(real));
        };
    }
    if (setup.share) {
        setup.share_journal = std::make_unique<replay::RecordedShare>(*session);
        setup.share->rr_journal = setup.share_journal.get();
        setup.share->rr_replay = replay;
    }
    return session;
}

}  // namespace

Result<RunOutcome> run_vm(const VmOptions& requested, VmObserver* observer) {
    // A restore reads and checks the snapshot first; the VM is then the one it describes.
    std::optional<RestorePlan> restore;
    if (!requested.restore_path.empty()) restore = TRY(RestorePlan::open(requested));
    const VmOptions& opt = restore ? restore->options() : requested;
    // Everything the user gave is checked before anything is created.
    TRY_VOID(check_memory_size(opt.mem_mib));
    // An initrd is copied whole into guest RAM; a kernel ELF may carry more than it loads
    // (symbols), so it gets at least 1 GiB.
    const uint64_t ram_bytes = opt.mem_mib << 20;
    InputFile kernel_file, initrd_file;
    std::span<const uint8_t> kernel(opt.kernel_bytes);
    if (!opt.kernel_path.empty()) {
        kernel_file = TRY(read_input_file(opt.kernel_path, "kernel", std::max<uint64_t>(ram_bytes, uint64_t{1} << 30),
                                          ReadMode::ElfMetadata));
        kernel = kernel_file.bytes();
    }
    if (kernel.empty() && !restore) return fail("no kernel given and no embedded guest");
    if (!opt.initrd_path.empty())
        initrd_file = TRY(read_input_file(opt.initrd_path, "initrd", ram_bytes, ReadMode::OnDemand));
    const std::span<const uint8_t> initrd = initrd_file.bytes();

    auto hv = TRY(hv::open_hypervisor(opt.accel));
    if (opt.cpus < 1 || opt.cpus > hv->max_vcpus())
        return fail("--cpus {} is out of range for --accel {} (1..{})", opt.cpus, hv::accel_name(opt.accel),
                    hv->max_vcpus());
    auto mem = TRY(memory::GuestMemory::create(opt.mem_mib << 20));
    loader::LoadRequest req{kernel, initrd, opt.cmdline, opt.cpus, acpi::kRsdpAddr, opt.kernel_path, opt.initrd_path};
    // Large files go straight from the file into guest RAM (vmm/input_file.h).
    auto reader_of = [](const InputFile& f) -> loader::RangeReader {
        if (!f.on_demand) return {};
        return [&f](uint64_t offset, std::span<uint8_t> out) { return f.read_at(offset, out); };
    };
    req.kernel_reader = reader_of(kernel_file);
    req.initrd_reader = reader_of(initrd_file);
    req.initrd_reader_size = initrd_file.on_demand ? initrd_file.size : 0;
    Result<loader::BootSetup> loaded = restore ? loader::BootSetup{} : loader::load_kernel(mem, req);
    if (!loaded) return std::unexpected(with_context(loaded.error(), "kernel"));
    // A Xen guest's RAM is loaded once its platform is built (below): building it writes the
    // toolstack's pages, and its store session must not see the guest's restored ring before
    // the store is restored.
    if (restore && !opt.xen) TRY_VOID(restore->load_memory(mem));
    const loader::BootSetup& boot = *loaded;
    // The loader copied what the guest needs into its RAM: the files' buffers (a Debian vmlinux
    // is 65 MiB) are not kept for the VM's lifetime.
    kernel_file = {};
    initrd_file = {};

    RrSetup rr;   // a replay's disks are stand-ins (open_replay_session)
    std::unique_ptr<replay::Session> session = TRY(open_replay_session(opt, rr));
    const std::vector<DiskOption>& disks = rr.disks;
    if (session) session->set_memory(mem);
    hv::VmConfig cfg{opt.cpus, opt.xen, opt.stats, opt.perf_map, opt.bt_cache_mib, opt.xen && opt.viridian, session.get()};
    cfg.bt_warm = opt.bt_warm;
    auto vm = TRY(hv->create_vm(cfg));
    TRY_VOID(vm->set_memory(mem));

    VmLifecycle life;
    bus::Bus pio, mmio;
    std::function<void(std::span<const uint8_t>)> serial_out = opt.serial_out ? opt.serial_out : write_stdout;
    if (session)
        serial_out = [session = session.get(), out = std::move(serial_out)](std::span<const uint8_t> bytes) {
            // A replay rewound by gdb (reverse execution) re-emits what was shown already.
            if (auto fresh = session->note_serial(bytes); !fresh.empty()) out(fresh);
        };
    std::optional<VmOptions> with_stand_ins;
    if (session && (!disks.empty() || !rr.nets.empty())) {
        with_stand_ins = opt;
        with_stand_ins->disks = disks;
        with_stand_ins->nets = rr.nets;
    }
    auto board = TRY(Board::create(*vm, mem, pio, mmio, life, serial_out, with_stand_ins ? *with_stand_ins : opt));
    // ACPI tables for PC kernels (docs/ARCHITECTURE.md "ACPI"); own-ABI guests get none.
    if (!restore && boot.format != loader::KernelFormat::Elf64) {
        std::vector<acpi::MmioDeviceDesc> virtio;
        for (const auto& d : board->virtio_devices())
            virtio.push_back({static_cast<uint32_t>(d.base), static_cast<uint32_t>(d.size), d.gsi});
        // IRQ0 -> GSI 2 where the engine's PIT is wired there; none under KVM's default routing.
        const bool irq0_to_gsi2 = opt.accel != hv::Accel::Kvm && emu::InterruptPlatform::kPitGsi == 2;
        const uint64_t dmar = board->pci() ? board->pci()->dmar_unit() : 0;
        TRY_VOID(acpi::write_acpi_tables(mem, acpi::AcpiConfig{opt.cpus, kAcpiPmPort, std::move(virtio), irq0_to_gsi2, dmar}));
    }
    std::unique_ptr<XenPlatform> xen;
    if (opt.xen) {
        xen = TRY(XenPlatform::create(*vm, mem, life, opt.cpus, serial_out, disks, rr.nets, rr.share,
                                      opt.driver_domain, rr.xen_boot_unix_ns));
        TRY_VOID(xen->attach_physmap(mem, mmio));
        if (restore) TRY_VOID(restore->load_memory(mem, {kStorePfn, kConsolePfn}));
    }

    std::vector<std::unique_ptr<hv::Vcpu>> vcpus;
    for (int i = 0; i < opt.cpus; ++i) {
        auto v = TRY(vm->create_vcpu(i));
        if (restore) {
            // State comes from the snapshot below.
        } else if (i == 0) {
            TRY_VOID(v->set_state(boot.bsp));
        } else if (boot.ap_start == loader::ApStart::AtEntry) {
            TRY_VOID(v->set_state(loader::ap_entry_state(boot, i, opt.cpus)));
        }
        life.add_vcpu(v.get());
        vcpus.push_back(std::move(v));
    }

    if (restore) TRY_VOID(restore->apply(*vm, *board, xen.get()));
    ExitDispatcher dispatcher(pio, mmio);
    XenCallCounts xen_calls;
    std::unique_ptr<VcpuExitCounts[]> exit_counts(new VcpuExitCounts[vcpus.size()]);
    Board::InputSink input_sink;
    if (xen) {
        std::vector<hv::Vcpu*> raw;
        for (auto& v : vcpus) raw.push_back(v.get());
        xen->set_vcpus(std::move(raw));
        XenPlatform* x = xen.get();
        // Every guest RAM write a hypercall makes (its results, grant copies, event bits, the
        // back ends it runs on the caller's thread) is reported (pv::RamWrites): its exit need not
        // make the own engine re-verify all decoded code.
        dispatcher.set_hypercall_handler(
            [x, &xen_calls](int vcpu, const hv::Hypercall& hc) {
                xen_calls.count(hc);
                return x->handle(vcpu, hc);
            },
            true);
        input_sink = [x](std::span<const uint8_t> bytes) { return x->console_input(bytes); };
    }
    if (session) {
        // Console input reaches the guest only at a halt the log names (replay/session.h).
        devices::legacy::Uart8250* uart = &board->uart();
        session->set_input_target([uart](std::span<const uint8_t> bytes) { return uart->push_input(bytes); });
        if (xen) {
            // The Xen console ring instead, and Xen's timers on the vCPU thread (xen_platform_rr.cpp).
            XenPlatform* x = xen.get();
            session->set_input_target([x](std::span<const uint8_t> bytes) { return x->console_input(bytes); });
            session->set_timers([x] { x->poll_timers(); }, [x] { return x->next_timer_ns(); });
        }
        session->set_end_vm([&life](int status, std::string reason) {
            if (status >= 0) return life.request_exit_or_defer(ExitCause::ConsoleQuit, status, std::move(reason));
            life.request_exit(ExitCause::VcpuError, kExitVmError, std::move(reason));
            return true;
        });
        replay::Session* s = session.get();
        input_sink = [s](std::span<const uint8_t> bytes) { return s->queue_input(bytes); };
    }
    std::function<void()> input_end;
    if (session) input_end = [s = session.get()] { s->input_ended(); };
    TRY_VOID(board->start_input(opt, input_sink, std::move(input_end)));
    std::unique_ptr<replay::History> history;
    std::unique_ptr<gdb::GdbServer> gdb_server;
    if (!opt.gdb.empty()) {
        emu::EngineShared* engine = vm->own_engine();
        if (!engine) return fail("--gdb is not supported on --accel {} yet (use --accel interp or bt)", hv::accel_name(opt.accel));
        const gdb::Endpoint where = TRY(gdb::parse_endpoint(opt.gdb));
        if (session && session->replaying()) {
            // Reverse execution (replay/history.h): snapshots at the engine's poll points.
            history = std::make_unique<replay::History>(*session, snapshot_parts(*engine, *board), mem,
                                                        opt.rr_snapshot_interval, opt.rr_snapshots);
            session->set_poll_hook([h = history.get()](emu::Cpu& cpu) { h->poll_point(cpu); });
        }
        gdb_server = TRY(gdb::GdbServer::start(where, *engine, opt.gdb_wait, [&life] {
            life.request_exit(devices::ExitCause::ConsoleQuit, 0, "killed by gdb");
        }, history.get()));
        if (history) {
            // The end of the recording (the guest's power-off, reset, debug-exit, the log's End,
            // met on the vCPU thread) stops in gdb (`replaylog:end`) while a client is attached,
            // so that it can go back from there; resuming forward ends the VM as recorded.
            // Errors and a triple fault (its vCPU thread has left) end it at once.
            life.set_defer([&life, server = gdb_server.get()](ExitCause cause, int status, const std::string& reason) {
                if (!emu::t_determinism || cause == ExitCause::VcpuError || cause == ExitCause::TripleFault) return false;
                return server->hold_end([&life, cause, status, reason] { life.end_now(cause, status, reason); });
            });
        }
    }
    MachineControl control(*vm, *board, xen.get(), mem, opt,
                           MetricsSources{&vcpus, exit_counts.get(), &dispatcher.counters(), board->virtio(),
                                          xen ? &xen_calls : nullptr, xen ? xen->io() : nullptr});
    ObserverGuard observer_guard;
    if (observer) {
        observer->started(control);
        observer_guard.observer = observer;
    }
    // Everything the VM uses is open: --chroot now, before guest code runs (host/privilege_drop.h).
    TRY_VOID(host::enter_chroot());
    std::vector<std::thread> threads;
    if (session) session->vcpus_started();
    host::set_confinement_share(opt.share.has_value() && !(rr.share && rr.share->rr_replay));
    if (session && vcpus.size() > 1) {
        threads.emplace_back([&] {
            host::confine_this_thread(host::ThreadKind::Vcpu);
            serialized_vcpus_loop(vcpus, dispatcher, life, exit_counts.get(), board->sleep(), *session);
        });
    } else {
        for (size_t i = 0; i < vcpus.size(); ++i)
            threads.emplace_back([&, vp = vcpus[i].get(), counts = &exit_counts[i]] {
                host::confine_this_thread(host::ThreadKind::Vcpu);
                vcpu_loop(*vp, dispatcher, life, *counts, board->sleep(), session.get());
            });
    }
    // Every thread of this VM exists: the main thread only waits and tears down from here on.
    host::confine_this_thread(host::ThreadKind::Main);
    life.wait();
    if (session) session->stop();
    for (auto& t : threads) t.join();
    if (gdb_server) gdb_server->vm_ended(life.status());
    if (observer) {
        observer_guard.observer = nullptr;
        observer->stopping();
    }
    board->stop_input();

    if (opt.stats) print_stats(vcpus, dispatcher.counters());
    if (session && session->replaying() && life.cause() == ExitCause::VcpuError)
        // The replay diverged (or failed) while it ran: that first difference is the news; the
        // log's End cannot match a run cut short.
        return RunOutcome{life.status(), life.cause(), life.reason()};
    if (session) {
        auto done = session->finish(life.status(), mem);
        if (!done) return RunOutcome{kExitVmError, ExitCause::VcpuError, done.error().message};
        fmt::print(stderr, "popek: {} {} instructions{}; guest memory blake2b {}\n",
                   session->replaying() ? "replayed" : "recorded", session->instructions(),
                   session->replaying() ? "" : fmt::format(", {} log bytes to {}", session->log_bytes(), opt.record_path), *done);
    }
    return RunOutcome{life.status(), life.cause(), life.reason()};
}

}  // namespace popek::vmm
