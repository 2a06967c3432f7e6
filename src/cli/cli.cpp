#include "cli/cli.h"

#include <unistd.h>

#include <charconv>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/fc_options.h"
#include "gdb/gdb_server.h"
#include "vmm/exit_status.h"

namespace popek::cli {
namespace {

constexpr const char* kRunFooter = R"(
Console: the guest's COM1 is popek's stdin/stdout (raw mode when stdin is a terminal).
  Ctrl-A x   quit popek        Ctrl-A Ctrl-A   send Ctrl-A to the guest
Exit status: the guest's debug-exit value*2+1 (port 0xf4, QEMU isa-debug-exit convention),
  0 when the guest powers off or resets, 2 on a usage or input error, 4 when the VM fails
  (with --xen also when every vCPU halts with interrupts off, as Xen ends such a domain).
Without --kernel popek boots its built-in demo guest.)";

constexpr const char* kNetPeerFooter = R"(
Examples:
  popek net-peer --gen-key host.key                      # prints the public key
  popek net-peer --key host.key --peer GUESTKEY --dgram /tmp/h.sock,/tmp/g.sock --recv 1
  popek run --xen --kernel popek-os.elf --net dgram=/tmp/g.sock,/tmp/h.sock
Received messages are printed as 'PEERKEYPREFIX: text'; counters (sent, received, dropped by
reason) go to stderr at exit. Exit status: 0 done, 1 handshake or receive timed out, 2 usage.)";

/// A decimal whole number in [lo, hi]: "not a number" and "out of range" are told apart (CLI::Range
/// answered `--mem abc` with "Value abc not in range").
CLI::Validator whole_number(uint64_t lo, uint64_t hi) {
    return CLI::Validator(
        [lo, hi](std::string& text) -> std::string {
            uint64_t v = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size())
                return fmt::format("'{}' is not a whole number (expected {} to {})", text, lo, hi);
            if (ec == std::errc::result_out_of_range || v < lo || v > hi)
                return fmt::format("{} is out of range (expected {} to {})", text, lo, hi);
            return {};
        },
        fmt::format("NUMBER in [{} - {}]", lo, hi));
}

/// `LOCAL,REMOTE` socket paths (--net dgram=..., net-peer --dgram).
Result<std::pair<std::string, std::string>> split_paths(const std::string& spec) {
    auto comma = spec.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == spec.size() ||
        spec.find(',', comma + 1) != std::string::npos)
        return fail("'{}': expected LOCAL_PATH,REMOTE_PATH", spec);
    return std::pair{spec.substr(0, comma), spec.substr(comma + 1)};
}

CLI::App* add_net_peer(CLI::App& app, netsec::NetPeerOptions& o, std::string& dgram) {
    CLI::App* p = app.add_subcommand("net-peer", "talk secure-net (authenticated, encrypted) to a popek-os guest or another peer");
    p->footer(kNetPeerFooter);
    p->add_option("--gen-key", o.gen_key_path, "write a new identity (secret key, mode 0600) to FILE, print its public key")
        ->type_name("FILE");
    p->add_option("--key", o.key_path, "this peer's identity (a file written by --gen-key)")->type_name("FILE");
    p->add_flag("--public", o.print_public, "print the public key of --key and exit");
    p->add_option("--peer", o.peers, "accepted peer public key (64 hex digits); messages go to the first")
        ->type_name("HEX");
    p->add_option("--dgram", dgram, "unix datagram link: bind LOCAL, send to REMOTE (as popek run --net dgram=)")
        ->type_name("LOCAL,REMOTE");
    p->add_option("--send", o.messages, "connect to the first --peer and send MSG (repeatable, in order)")->type_name("MSG");
    p->add_option("--recv", o.receive_count, "print N received messages, then exit")->type_name("N")
        ->check(CLI::Range(0, 1 << 30));
    p->add_option("--recv-bytes", o.receive_bytes,
                  "receive, verify and acknowledge a netbench stream of N bytes (popek-os `netbench`), print its rate")
        ->type_name("N")->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
    p->add_flag("--echo", o.echo, "send every received message back to its sender");
    p->add_option("--timeout", o.timeout_s, "give up after SECONDS without progress (0: never)")->type_name("SECONDS")
        ->capture_default_str()->check(CLI::Range(0.0, 1e6));
    return p;
}

/// `VALUE[,ro]` of `option` (--disk FILE[,ro], --share DIR[,ro]): the value and the ro flag.
Result<std::pair<std::string, bool>> parse_read_only_spec(std::string_view option, std::string_view what,
                                                           const std::string& spec) {
    auto comma = spec.find(',');
    std::string value = spec.substr(0, comma);
    if (value.empty()) return fail("{} '{}': no {} given", option, spec, what);
    if (comma == std::string::npos) return std::pair{value, false};
    std::string flags = spec.substr(comma + 1);
    if (flags != "ro") return fail("{} '{}': unknown flag '{}' (only 'ro')", option, spec, flags);
    return std::pair{value, true};
}

}  // namespace

Result<vmm::DiskOption> parse_disk(const std::string& spec) {
    auto [path, ro] = TRY(parse_read_only_spec("--disk", "file", spec));
    return vmm::DiskOption{path, ro, {}};
}

Result<vmm::ShareOption> parse_share(const std::string& spec) {
    auto [path, ro] = TRY(parse_read_only_spec("--share", "directory", spec));
    return vmm::ShareOption{path, ro};
}

Result<vmm::NetOption> parse_net(const std::string& spec) {
    if (spec == "user") return vmm::NetOption{};
    if (spec.starts_with("tap=") && spec.size() > 4) return vmm::NetOption{vmm::NetOption::Kind::Tap, spec.substr(4), {}, {}};
    if (spec.starts_with("dgram=")) {
        auto paths = split_paths(spec.substr(6));
        if (!paths) return fail("--net '{}': expected 'dgram=LOCAL_PATH,REMOTE_PATH'", spec);
        return vmm::NetOption{vmm::NetOption::Kind::Dgram, {}, paths->first, paths->second};
    }
    return fail("--net '{}': expected 'user', 'tap=NAME' or 'dgram=LOCAL_PATH,REMOTE_PATH'", spec);
}

Parsed parse(const std::vector<std::string>& args) {
    Parsed out;
    CLI::App app{"popek - a virtual machine monitor (KVM, own x86-64 engine, Xen-style PV)", "popek"};
    app.set_version_flag("--version", std::string("popek ") + POPEK_VERSION);
    app.require_subcommand(1);
    CLI::App* run = app.add_subcommand("run", "boot a guest");
    run->footer(kRunFooter);
    std::string accel = "auto";
    auto& o = out.options;
    run->add_option("--kernel", o.kernel_path, "kernel: ELF with a Xen PVH note, multiboot v1 ELF32 (e.g. kvm-unit-tests), "
                    "Linux bzImage, or ELF64")
        ->type_name("FILE");
    run->add_option("--initrd", o.initrd_path, "initial ramdisk (a multiboot kernel's one module)")->type_name("FILE");
    run->add_option("--cmdline", o.cmdline, "kernel command line (a multiboot kernel gets 'FILE STR', FILE as given to "
                    "--kernel)")->type_name("STR");
    run->add_option("--mem", o.mem_mib, "guest RAM in MiB")->type_name("MiB")->capture_default_str()
        ->check(whole_number(2, uint64_t{1} << 24));
    run->add_option("--cpus", o.cpus, "number of vCPUs")->type_name("N")->capture_default_str()
        ->check(whole_number(1, 255));
    run->add_option("--accel", accel, "CPU engine: kvm, interp, or bt (the interpreter translating hot blocks to host code); "
                    "auto = kvm when /dev/kvm is usable, else interp")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "kvm", "interp", "bt"}));
    run->add_flag("--xen", o.xen, "Xen PVH personality (hypercalls, event channels, XenStore)");
    run->add_flag("--viridian", o.viridian,
                  "with --xen: also the Hyper-V interface Xen offers a `viridian` guest (CPUID 0x40000000, the "
                  "reference TSC page; Xen's leaves move to 0x40000100; docs/pv.md)");
    run->add_flag("--stats", o.stats, "print instruction and exit counts at exit (Popek-Goldberg report)");
    run->add_flag("--perf-map", o.perf_map,
                  "--accel bt: write /tmp/perf-PID.map naming each translated block by its guest address, for perf");
    run->add_option("--bt-cache", o.bt_cache_mib,
                    "--accel bt: translated code kept per vCPU; when full, every translation is dropped and redone")
        ->type_name("MiB")->capture_default_str()->check(whole_number(1, 1024));
    bool no_bt_warm = false;
    run->add_flag("--no-bt-warm", no_bt_warm,
                  "--accel bt with several vCPUs: a halted vCPU does not translate ahead the blocks the other vCPUs "
                  "translated (by default it does, on its otherwise idle host core)");
    std::vector<std::string> disks, nets;
    run->add_option("--disk", disks, "block device backed by FILE (virtio-blk; the Xen vbd with --xen); ',ro' for read-only")
        ->type_name("FILE[,ro]");
    run->add_option("--net", nets, "network device (virtio-net; a Xen vif under --xen): 'user' (libslirp: DHCP, DNS, "
                    "outbound TCP/UDP), 'tap=NAME', or 'dgram=LOCAL,REMOTE' (frames as unix datagrams: bind LOCAL, "
                    "send to REMOTE)")
        ->type_name("user|tap=NAME|dgram=LOCAL,REMOTE");
    std::string share;
    run->add_option("--share", share, "with --xen: serve host directory DIR to the guest (popekfs device); ',ro' for read-only")
        ->type_name("DIR[,ro]");
    run->add_flag("--driver-domain", o.driver_domain,
                  "with --xen: run the --disk back ends in a separate unprivileged process (driver domain 2)");
    run->add_flag("--rng", o.virtio_rng, "add a virtio entropy device (fed from getrandom)");
    run->add_option("--device", o.pci_devices, "add a PCI device on a q35-like PCI bus (--accel interp or bt): 'edu' "
                    "(QEMU's educational device, for kvm-unit-tests' intel_iommu)")
        ->type_name("edu")->check(CLI::IsMember({"edu"}));
    std::string iommu;
    run->add_option("--iommu", iommu, "add an IOMMU (--accel interp or bt): 'intel' = a VT-d DMA and interrupt "
                    "remapping unit at 0xfed90000 with an ACPI DMAR table (QEMU's intel-iommu,intremap=on,eim=off)")
        ->type_name("intel")->check(CLI::IsMember({"intel"}));
    run->add_flag("--test-dev", o.test_device, "add test devices: popek's (PIO 0x700, MMIO 0xfe000000) and QEMU "
                  "pc-testdev's (ports 0xe0-0xeb and 0x2000-0x2017, 64 KiB MMIO at 0xff000000, for kvm-unit-tests)");

    // The gdb stub (issue 15, docs/debugging.md).
    run->add_option("--gdb", o.gdb, "gdb remote stub on tcp:PORT (127.0.0.1) or unix:PATH (--accel interp and bt)")
        ->type_name("tcp:PORT|unix:PATH");
    run->add_flag("--gdb-wait", o.gdb_wait, "with --gdb: stop the vCPUs before the first instruction until gdb continues");
    // Deterministic record and replay (issue 15 part 2, docs/record-replay.md).
    run->add_option("--record", o.record_path, "record the run to the log FILE for --replay (--accel interp or bt, "
                    "auto: bt; several vCPUs run in turns on one thread)")->type_name("FILE");
    run->add_option("--replay", o.replay_path, "re-run the log FILE that --record wrote, with the recording's options; "
                    "a divergence ends it with status 4")->type_name("FILE");
    run->add_option("--rr-snapshot-interval", o.rr_snapshot_interval, "with --replay and --gdb: reverse execution takes a "
                    "snapshot every N instructions (default 1000000; docs/debugging.md)")
        ->type_name("N")->check(CLI::Range(uint64_t{1000}, uint64_t{1} << 40));
    run->add_option("--rr-snapshots", o.rr_snapshots, "with --replay and --gdb: keep at most M snapshots (default 64; "
                    "more are thinned out, the interval doubling)")->type_name("M")->check(CLI::Range(2u, 65536u));

    // Firecracker's ways in (issue 14, docs/api.md).
    std::string config_file;
    run->add_option("--config-file", config_file, "boot the VM Firecracker's JSON config FILE describes (plus popek's "
                    "own \"popek\" key); not with the options that describe a VM")->type_name("FILE");
    run->add_option("--api-sock", out.api_sock, "serve Firecracker's HTTP API on the unix socket PATH; without --kernel "
                    "or --config-file wait for InstanceStart")->type_name("PATH");

    // Snapshots (issue 14 part 2, docs/snapshot.md).
    run->add_option("--restore", o.restore_path, "resume the VM saved in snapshot FILE (PUT /snapshot/create) instead of "
                    "booting one; needs --restore-mem; --accel interp or bt (auto: bt)")->type_name("FILE");
    run->add_option("--restore-mem", o.restore_mem_path, "with --restore: the snapshot's guest memory file")->type_name("FILE");
    run->add_flag("!--no-seccomp", out.seccomp, "run every thread without its seccomp allow-list (on by default: a "
                  "system call off a thread's list kills popek with SIGSYS; docs/seccomp.md)");

    // Least privilege (issue 19 item 6, docs/security-model.md "Privileges").
    auto& priv = out.privileges;
    run->add_option("--uid", priv.uid, "started as root: every thread drops to this uid once set up (with --gid)")
        ->type_name("UID")->check(whole_number(0, 4294967294));
    run->add_option("--gid", priv.gid, "started as root: every thread drops to this gid, no supplementary groups (with --uid)")
        ->type_name("GID")->check(whole_number(0, 4294967294));
    run->add_option("--chroot", priv.chroot_dir, "started as root: chroot into DIR once set up, before guest code runs "
                    "(everything the VM uses is open by then: DIR may be empty)")->type_name("DIR");

    std::string dgram;
    CLI::App* net_peer = add_net_peer(app, out.net_peer, dgram);

    CLI::App* backend = app.add_subcommand("backend", "driver domain process (started by `popek run --driver-domain`)");
    backend->footer("Serves blkif requests from popek over the socket; it sees guest data only through grant copies.");
    auto& b = out.backend;
    backend->add_option("--socket-fd", b.socket_fd, "SOCK_SEQPACKET socket to the VMM")->required();
    backend->add_option("--disk-fd", b.disk_fd, "the opened disk file")->required();
    backend->add_flag("--read-only", b.read_only, "the disk is read-only");
    backend->add_option("--domid", b.domid, "this driver domain's id")->capture_default_str();
    backend->add_flag("!--no-sandbox", b.sandbox, "keep privileges and run without seccomp (debugging)");

    CLI::App* inspect = app.add_subcommand("disk-inspect", "show the public header of a popek-os sealed disk image");
    inspect->footer("Format version, cipher, key derivation and sizes (docs/guest-os.md \"Storage\"); no key, no contents.");
    inspect->add_option("IMG", out.disk_image, "the disk image")->required();

    std::vector<std::string> rev(args.rbegin(), args.rend());
    try {
        app.parse(rev);
    } catch (const CLI::CallForHelp&) {
        out.action = Parsed::Exit;
        out.message = app.help("", CLI::AppFormatMode::All);
        return out;
    } catch (const CLI::CallForVersion&) {
        out.action = Parsed::Exit;
        out.message = std::string("popek ") + POPEK_VERSION + "\n";
        return out;
    } catch (const CLI::ParseError& e) {
        out.action = Parsed::Exit;
        out.exit_status = vmm::kExitUserError;
        out.message = std::string("popek: ") + e.what() + " (see popek --help)\n";
        return out;
    }
    o.bt_warm = !no_bt_warm;
    if (backend->parsed()) {
        out.action = Parsed::Backend;
        return out;
    }
    if (inspect->parsed()) {
        out.action = Parsed::DiskInspect;
        return out;
    }
    auto usage_error = [&out](const Error& e) {
        out.action = Parsed::Exit;
        out.exit_status = vmm::kExitUserError;
        out.message = "popek: " + e.message + " (see popek --help)\n";
        return out;
    };
    if (net_peer->parsed()) {
        out.action = Parsed::NetPeer;
        if (!dgram.empty()) {
            auto paths = split_paths(dgram);
            if (!paths) return usage_error(paths.error());
            out.net_peer.local_path = paths->first;
            out.net_peer.remote_path = paths->second;
        }
        return out;
    }
    if (!o.restore_mem_path.empty() && o.restore_path.empty()) return usage_error(Error{"--restore-mem needs --restore"});
    if (!o.restore_path.empty()) {
        // The snapshot describes the VM; only the engine and the console are this run's.
        if (o.restore_mem_path.empty()) return usage_error(Error{"--restore needs --restore-mem (the snapshot's memory file)"});
        for (const char* describing : {"--kernel", "--initrd", "--cmdline", "--mem", "--cpus", "--xen", "--viridian", "--disk", "--net",
                                       "--driver-domain", "--rng", "--test-dev", "--bt-cache", "--config-file",
                                       "--device", "--iommu"})
            if (run->count(describing) > 0)
                return usage_error(Error{fmt::format("--restore: the snapshot describes the VM, {} cannot be given with it",
                                                     describing)});
        if (accel == "kvm")
            return usage_error(Error{"--restore: snapshots are not supported yet on --accel kvm (use interp or bt; "
                                     "docs/snapshot.md)"});
        o.accel = accel == "interp" ? hv::Accel::Interp : hv::Accel::Bt;
        // --share DIR[,ro]: the directory the restored popekfs device serves (docs/snapshot.md).
        if (!share.empty()) {
            auto parsed = parse_share(share);
            if (!parsed) return usage_error(parsed.error());
            o.share = *parsed;
        }
        out.vm_described = true;
        return out;
    }
    if (!config_file.empty()) {
        // The config file describes the whole VM; a second description on the command line is refused.
        for (const char* describing : {"--kernel", "--initrd", "--cmdline", "--mem", "--cpus", "--accel", "--xen", "--viridian", "--disk",
                                       "--net", "--share", "--driver-domain", "--rng", "--test-dev", "--bt-cache", "--device",
                                       "--iommu"})
            if (run->count(describing) > 0)
                return usage_error(Error{fmt::format("--config-file describes the VM: {} cannot be given with it (put it in "
                                                     "the file; docs/api.md)", describing)});
        auto loaded = load_config_file(config_file);
        if (!loaded) return usage_error(with_context(loaded.error(), "--config-file"));
        o = with_cli_extras(std::move(*loaded), o);
        out.vm_described = true;
        disks.clear();
        nets.clear();
        share.clear();
    } else {
        out.vm_described = !o.kernel_path.empty();
        o.accel = *hv::parse_accel(resolve_accel(accel));
    }
    for (const auto& d : disks) {
        auto parsed = parse_disk(d);
        if (!parsed) return usage_error(parsed.error());
        o.disks.push_back(*parsed);
    }
    if (!share.empty()) {
        if (!o.xen) return usage_error(Error{"--share needs --xen (it is a Xen PV device)"});
        auto parsed = parse_share(share);
        if (!parsed) return usage_error(parsed.error());
        o.share = *parsed;
    }
    o.iommu = !iommu.empty();
    if (!o.pci_devices.empty() || o.iommu) {
        const char* what = o.pci_devices.empty() ? "--iommu" : "--device";
        if (o.xen) return usage_error(Error{fmt::format("{} adds PCI hardware, which --xen guests do not get", what)});
        if (o.accel == hv::Accel::Kvm)
            return usage_error(Error{fmt::format("{} is not supported on --accel kvm yet (use --accel interp or bt)", what)});
        if (!o.record_path.empty() || !o.replay_path.empty())
            return usage_error(Error{fmt::format("{} cannot be recorded or replayed yet (--record, --replay)", what)});
    }
    if (o.driver_domain && !o.xen) return usage_error(Error{"--driver-domain needs --xen"});
    if (o.viridian && !o.xen) return usage_error(Error{"--viridian needs --xen (it is what Xen offers a `viridian` guest)"});
    if (o.viridian && o.accel == hv::Accel::Kvm)
        return usage_error(Error{"--viridian is not supported on --accel kvm yet (use --accel interp or bt)"});
    // Options that would do nothing are refused rather than silently ignored.
    if (o.driver_domain && o.disks.empty())
        return usage_error(Error{"--driver-domain serves --disk back ends: give at least one --disk"});
    if (o.virtio_rng && o.xen) return usage_error(Error{"--rng is a virtio device, which --xen guests do not get"});
    for (const auto& n : nets) {
        auto parsed = parse_net(n);
        if (!parsed) return usage_error(parsed.error());
        o.nets.push_back(*parsed);
    }
    if (!o.record_path.empty() || !o.replay_path.empty()) {
        if (!o.record_path.empty() && !o.replay_path.empty())
            return usage_error(Error{"--record and --replay cannot be given together"});
        if (config_file.empty() && accel == "auto") o.accel = hv::Accel::Bt;   // the engine records; KVM cannot
        if (o.accel == hv::Accel::Kvm)
            return usage_error(Error{fmt::format("{} needs the own engine (--accel interp or bt)",
                                                 o.record_path.empty() ? "--replay" : "--record")});
    }
    if (o.gdb_wait && o.gdb.empty()) return usage_error(Error{"--gdb-wait needs --gdb"});
    if ((run->count("--rr-snapshot-interval") || run->count("--rr-snapshots")) && (o.replay_path.empty() || o.gdb.empty()))
        return usage_error(Error{"--rr-snapshot-interval and --rr-snapshots are for reverse execution: they need --replay and --gdb"});
    if (!o.record_path.empty() && !o.gdb.empty())
        return usage_error(Error{"--record cannot be combined with --gdb (record, then debug the replay: --replay FILE --gdb ...)"});
    if (!o.gdb.empty()) {
        if (auto ep = gdb::parse_endpoint(o.gdb); !ep) return usage_error(ep.error());
        if (o.accel == hv::Accel::Kvm)
            return usage_error(Error{"--gdb is not supported on --accel kvm yet (use --accel interp or bt)"});
    }
    return out;
}

}  // namespace popek::cli
