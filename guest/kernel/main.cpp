/// popek-os kernel entry: brings up the CPU, memory, interrupts, timer, files and policy, then
/// starts the shell as the boot user and becomes the idle thread (docs/guest-os.md).
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/trap.h"
#include "auth/policy.h"
#include "boot_info.h"
#include "drivers/lapic_timer.h"
#include "drivers/tty.h"
#include "drivers/uart_console.h"
#include "fs/packed_file_table.h"
#include "lib/kprint.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "proc/process.h"
#include "proc/sched.h"

extern "C" const uint8_t packed_files_start[], packed_files_end[];
extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace pos {
namespace {

constexpr uint8_t kCom1Irq = 4;
UartConsole g_console(0x3f8);
LapicTimer g_timer;
PackedFileTable g_files;
Cpu g_boot_cpu;

void timer_interrupt() { g_timer.handle_interrupt(); }
void console_interrupt() { g_console.handle_interrupt(); }

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
    g_console.init();
    Console::set_active(&g_console);
    kprintf("popek-os 0.1 (phase 1: COM1 console, LAPIC timer, built-in files)\n");
    cpu_init(g_boot_cpu, 0);
    BootInfo boot = boot_info_init(start_info_phys);
    if (!boot.valid) panic("no valid hvm_start_info at %#lx (not booted through PVH?)", start_info_phys);
    kprintf("popek-os: memory: %lu KiB free in %d ranges\n", pmm::free_frames() * 4, boot.ram_ranges);

    sched_init();
    kprintf("popek-os: cpu: %s\n", sched_saves_fpu() ? "FXSR/SSE state saved per thread"
                                                     : "no FXSR/SSE (programs built with SSE cannot run)");
    disable_legacy_pic();
    lapic::init();
    set_interrupt_handler(kVectorTimer, timer_interrupt);
    set_interrupt_handler(kVectorIrqBase + kCom1Irq, console_interrupt);
    ioapic::route_isa_irq(kCom1Irq);
    tty_attach(g_console);
    // Input that arrived before the route was set raised the (edge-triggered) line already and
    // keeps it high: drain it now so the next byte makes a new edge.
    g_console.handle_interrupt();

    load_files(boot);
    FileService::set_active(&g_files);
    load_policy();

    g_timer.set_tick_handler(sched_tick);
    if (!g_timer.start(kTickHz)) panic("cannot start the timer");
    kprintf("popek-os: timer: %lu Hz input (%s), %u Hz tick\n", g_timer.frequency(), g_timer.describe(), kTickHz);

    const char* argv[] = {"sh"};
    int pid = process_spawn(nullptr, policy_boot_user(), "/bin/sh", argv, 1);
    if (pid < 0) panic("cannot start /bin/sh: error %d", -pid);
    sched_run_idle();
}

}  // namespace pos
