/// popek-os kernel entry: brings up the CPU, memory, interrupts, timer, files and policy, then
/// starts the shell as the boot user and becomes the idle thread (docs/guest-os.md).
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/smp.h"
#include "arch/trap.h"
#include "arch/x86.h"
#include "auth/policy.h"
#include "boot_info.h"
#include "drivers/blkfront.h"
#include "drivers/lapic_timer.h"
#include "drivers/netfront.h"
#include "drivers/tty.h"
#include "drivers/uart_console.h"
#include "drivers/xen_console.h"
#include "drivers/xen_timer.h"
#include "fs/device_files.h"
#include "fs/share_files.h"
#include "fs/share_front.h"
#include "fs/packed_file_table.h"
#include "lib/kprint.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "net/netd_calls.h"
#include "proc/process.h"
#include "proc/sched.h"
#include "pv/evtchn.h"
#include "pv/grant_table.h"
#include "pv/hypercall.h"
#include "pv/xen_clock.h"
#include "pv/xenstore.h"

extern "C" const uint8_t packed_files_start[], packed_files_end[];
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace pos {
namespace {

constexpr uint8_t kCom1Irq = 4;
UartConsole g_console(0x3f8);
LapicTimer g_timer;
PackedFileTable g_files;
XenConsole g_xen_console;
XenTimer g_xen_timers[kMaxCpus];   // one tick per CPU (VIRQ_TIMER is per vCPU)
evtchn_port_t g_ipi_ports[kMaxCpus];   // under Xen: each CPU's wake-up port (EVTCHNOP_bind_ipi)
DeviceFiles g_device_files(&g_files);
BlockFront g_xvda;
NetFront g_vif;
ShareFront g_share;
ShareFiles g_share_files(&g_device_files, &g_share);
bool g_xen = false;             // Xen's PV devices in use (docs/guest-os.md "Phase 2")
const char* g_xen_problem = nullptr;

void timer_interrupt() { g_timer.handle_interrupt(); }
void console_interrupt() { g_console.handle_interrupt(); }

/// Under Xen: event channels, the clock and the console ring. Runs before anything is printed, so
/// that the whole log goes to the PV console.
bool bring_up_xen() {
    if (!xen::detect_and_init()) return false;
    const char* reason = "";
    if (xen::evtchn::init(0, &reason) && xen::clock::init(&reason) && g_xen_console.init(&reason)) return true;
    g_xen_problem = reason;
    return false;
}

/// Idle under Xen: SCHEDOP_block returns once an event is pending; the upcall vector is then taken
/// as soon as interrupts are on.
void xen_idle_wait() {
    xen::block();
    x86::sti();
    // Give the upcall a moment with interrupts on before the caller turns them off again: a CPU
    // whose ring 0 is emulated (PVM) may take the vector a few instructions late, and SCHEDOP_block
    // returns at once while the flag is set, so the idle loop would spin on the hypercall. Its
    // handler clears the flag; bounded in case the vector never comes.
    const vcpu_info_t* vi = xen::evtchn::vcpu_info(this_cpu()->id);
    for (int i = 0; i < 10000 && __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE) != 0; ++i)
        x86::pause();
}

/// Wakes idle CPU `cpu` (the scheduler's kick): a LAPIC IPI, or under Xen an event on its IPI
/// port, since SCHEDOP_block waits for events only.
void kick_cpu(int cpu) {
    if (g_xen) xen::evtchn::notify(g_ipi_ports[cpu]);
    else lapic::send_ipi(cpu_at(cpu).apic_id, kVectorReschedule);
}

void on_ipi_event(evtchn_port_t, void*) { sched_kicked(); }

bool prepare_kick(int cpu, const char** reason) {
    if (!g_xen) return true;   // the LAPIC IPI vector's handler is global
    long port = xen::evtchn::bind_ipi(static_cast<uint32_t>(cpu));
    if (port <= 0 || !xen::evtchn::set_handler(static_cast<evtchn_port_t>(port), on_ipi_event, nullptr, cpu)) {
        *reason = "EVTCHNOP_bind_ipi failed";
        return false;
    }
    g_ipi_ports[cpu] = static_cast<evtchn_port_t>(port);
    return true;
}

/// An AP's own platform part: under Xen its vcpu_info, tick and IPI port; else its LAPIC timer.
bool setup_cpu(int cpu, const char** reason) {
    if (g_xen) {
        if (!xen::evtchn::init(cpu, reason)) return false;
        if (!g_xen_timers[cpu].start_on(kTickHz, cpu)) {
            *reason = "cannot start its Xen timer (VIRQ_TIMER)";
            return false;
        }
        return prepare_kick(cpu, reason);
    }
    if (!g_timer.start_this_cpu(kTickHz)) {
        *reason = "cannot start its LAPIC timer";
        return false;
    }
    return true;
}

/// The first virtual disk (xvda, `--disk F`) becomes /dev/xvda. A missing disk is normal; other
/// failures are reported and the OS goes on.
void attach_disk() {
    long r = g_xvda.connect("51712");   // xvda: 202 << 8 (docs/misc/vbd-interface.txt)
    if (r == -xen::kENOENT) {
        kprintf("popek-os: xen: no virtual disk\n");
    } else if (r < 0) {
        kprintf("popek-os: xen: xvda: cannot connect (error %ld)\n", -r);
    } else {
        g_device_files.add_block(&g_xvda);
        kprintf("popek-os: xen: xvda: %lu bytes%s as /dev/xvda\n", g_xvda.size_bytes(),
                g_xvda.read_only() ? ", read-only," : "");
    }
}

/// The first network interface (`--net ...`), for netd (docs/guest-os.md "Networking").
void attach_net() {
    long r = g_vif.connect("0");
    if (r == -xen::kENOENT) {
        kprintf("popek-os: xen: no network interface\n");
    } else if (r < 0) {
        kprintf("popek-os: xen: vif0: cannot connect (error %ld)\n", -r);
    } else {
        netd_attach_interface(&g_vif);
        const uint8_t* m = g_vif.mac();
        kprintf("popek-os: xen: vif0: connected, mac %02x:%02x:%02x:%02x:%02x:%02x\n", m[0], m[1], m[2], m[3],
                m[4], m[5]);
    }
}

/// The host directory (`--share DIR[,ro]`, popekfs) becomes /share/... (docs/guest-os.md "Files on
/// the host"). Missing is normal.
void attach_share() {
    long r = g_share.connect();
    if (r == -xen::kENOENT) return;
    if (r < 0) {
        kprintf("popek-os: xen: share: cannot connect (error %ld)\n", -r);
        return;
    }
    kprintf("popek-os: xen: share: host directory as /share (%s)\n", g_share.read_only() ? "read-only" : "read-write");
}

/// Under Xen: the store, the grant table, then the PV devices popek offers.
void attach_pv_devices() {
    const char* reason = "";
    if (!xen::store::init(&reason) || !xen::grant::init(&reason)) {
        kprintf("popek-os: xen: no store or grant table (%s): no PV devices\n", reason);
        return;
    }
    attach_disk();
    attach_net();
    attach_share();
}

void load_files(const BootInfo& boot) {
    const char* reason = "";
    if (boot.module.data != nullptr) {
        if (g_files.init(boot.module.data, boot.module.size, &reason)) {
            kprintf("popek-os: files: %d from the boot module\n", g_files.count());
            return;
        }
        kprintf("popek-os: boot module is not a file table (%s); using the built-in one\n", reason);
    }
    if (!g_files.init(packed_files_start, static_cast<size_t>(packed_files_end - packed_files_start), &reason))
        panic("built-in file table: %s", reason);
    kprintf("popek-os: files: %d built in\n", g_files.count());
}

void load_policy() {
    int file = g_files.lookup("/etc/policy");
    FileInfo fi;
    if (file < 0 || !g_files.info(file, fi)) panic("no /etc/policy in the boot image");
    auto* text = static_cast<char*>(kmalloc(fi.size + 1));
    if (text == nullptr || g_files.read(file, 0, text, fi.size) != static_cast<long>(fi.size))
        panic("cannot read /etc/policy");
    int line = 0;
    const char* reason = "";
    if (!policy_load(text, fi.size, &line, &reason)) panic("/etc/policy line %d: %s", line, reason);
    kfree(text);
    if (policy_boot_user() == nullptr) panic("/etc/policy names no boot user");
    kprintf("popek-os: policy: %lu users, %lu rules, boot user %s\n", policy_user_count(), policy_rule_count(),
            policy_boot_user()->name);
}

}  // namespace

extern "C" [[noreturn]] void kernel_main(uint64_t start_info_phys) {
    // Global constructors first: the drivers' own fields (g_console's port) are set there.
    for (auto* ctor = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
    // The per-CPU area first: the PV core's upcall and clock look up this CPU through GS.
    cpu_init(cpu_at(0), 0);
    g_xen = bring_up_xen();
    if (g_xen) {
        Console::set_active(&g_xen_console);
        kprintf("popek-os 0.2 (Xen PV: xencons console, VIRQ_TIMER tick, SCHEDOP_block idle)\n");
    } else {
        g_console.init();
        Console::set_active(&g_console);
        kprintf("popek-os 0.2 (no Xen: COM1 console, LAPIC timer, built-in files)\n");
        if (g_xen_problem != nullptr) kprintf("popek-os: Xen found but not usable: %s\n", g_xen_problem);
    }
    BootInfo boot = boot_info_init(start_info_phys);
    if (!boot.valid) panic("no valid hvm_start_info at %#lx (not booted through PVH?)", start_info_phys);
    kprintf("popek-os: memory: %lu KiB free in %d ranges\n", pmm::free_frames() * 4, boot.ram_ranges);

    sched_init();
    kprintf("popek-os: cpu: %s\n", sched_saves_fpu() ? "FXSR/SSE state saved per thread"
                                                     : "no FXSR/SSE (programs built with SSE cannot run)");
    disable_legacy_pic();
    lapic::init();
    if (g_xen) {
        kprintf("popek-os: xen: event channels on vector %#x, clock: %s\n", kVectorXenUpcall, xen::clock::describe());
        tty_attach(g_xen_console);
        sched_set_idle_wait(xen_idle_wait);
        // An upcall raised before the local APIC was on may be lost; its flag is still set.
        xen::evtchn::dispatch_pending();
    } else {
        set_interrupt_handler(kVectorTimer, timer_interrupt);
        set_interrupt_handler(kVectorReschedule, sched_kicked);
        set_interrupt_handler(kVectorIrqBase + kCom1Irq, console_interrupt);
        ioapic::route_isa_irq(kCom1Irq);
        tty_attach(g_console);
        // Input that arrived before the route was set raised the (edge-triggered) line already and
        // keeps it high: drain it now so the next byte makes a new edge.
        g_console.handle_interrupt();
    }

    load_files(boot);
    if (g_xen) {
        attach_pv_devices();
        FileService::set_active(g_share.connected() ? static_cast<FileService*>(&g_share_files) : &g_device_files);
    } else {
        FileService::set_active(&g_files);
    }
    load_policy();

    if (g_xen) {
        for (XenTimer& t : g_xen_timers) t.set_tick_handler(sched_tick);
        if (!g_xen_timers[0].start(kTickHz)) panic("cannot start the Xen timer");
        kprintf("popek-os: timer: %s, %u Hz tick\n", g_xen_timers[0].describe(), kTickHz);
    } else {
        g_timer.set_tick_handler(sched_tick);
        if (!g_timer.start(kTickHz)) panic("cannot start the timer");
        kprintf("popek-os: timer: %lu Hz input (%s), %u Hz tick\n", g_timer.frequency(), g_timer.describe(), kTickHz);
    }

    sched_set_kick(kick_cpu);
    smp::start_secondary_cpus(boot.rsdp, boot.cmdline, smp::Hooks{prepare_kick, setup_cpu});

    const char* argv[] = {"sh"};
    int pid = process_spawn(nullptr, policy_boot_user(), "/bin/sh", argv, 1);
    if (pid < 0) panic("cannot start /bin/sh: error %d", -pid);
    if (g_xen && g_vif.connected()) netd_start();   // after the shell, which is pid 1 (init)
    sched_run_idle();
}

}  // namespace pos
