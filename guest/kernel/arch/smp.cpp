#include "arch/smp.h"

#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/madt.h"
#include "arch/x86.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/address_space.h"
#include "mm/pmm.h"
#include "proc/sched.h"

extern "C" const uint8_t ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_params[];
extern "C" [[noreturn]] void ap_entry_point(uint64_t arg);

namespace pos::smp {
namespace {

/// The trampoline's page (arch/ap_trampoline.S, AP_TRAMPOLINE): below 1 MiB, 4 KiB aligned, free
/// in popek's PVH layout (src/arch/x86_64/boot_layout.h: command line at 0x9000, stacks from
/// 0x10000) and never handed out by the frame allocator (it starts at 1 MiB).
constexpr uint64_t kTrampolinePage = 0xa000;
constexpr size_t kApStackPages = 4;
constexpr uint64_t kInitWaitTicks = 2;      // >= 10 ms between INIT and SIPI (SDM 8.4.4.1)
constexpr uint64_t kSipiWaitTicks = 2;      // the second SIPI only if the first one was not taken
constexpr uint64_t kUpWaitTicks = 300;      // 3 s: ring 0 is emulated on some hosts

/// Mirrors the parameter block at the end of ap_trampoline.S.
struct ApTrampolineParams {
    uint64_t cr3, stack, entry, arg;
    uint32_t started, reserved;
};

enum ApState : int { kStarting, kUp, kFailed };

Hooks g_hooks;
int g_state[kMaxCpus];   // ApState, written by the AP
const char* g_failure[kMaxCpus];
uint64_t g_stack[kMaxCpus];

ApTrampolineParams* params() {
    return phys_to_virt<ApTrampolineParams>(kTrampolinePage + static_cast<uint64_t>(ap_trampoline_params - ap_trampoline_start));
}

/// Sleeps on the tick (interrupts on while waiting) until `done()` or `ticks` ticks passed.
template <typename Done>
bool wait_ticks(uint64_t count, Done done) {
    uint64_t until = ticks() + count;
    while (!done()) {
        if (ticks() >= until) return done();
        sched_wait_for_interrupt();
    }
    return true;
}

/// The APIC ID named by `smp.silent=ID` in the command line, or -1.
long silent_apic(const char* cmdline) {
    static const char kKey[] = "smp.silent=";
    for (const char* w = cmdline; *w != 0;) {
        while (*w == ' ') ++w;
        if (starts_with(w, kKey)) {
            long id = 0;
            const char* d = w + sizeof kKey - 1;
            if (*d < '0' || *d > '9') return -1;
            for (; *d >= '0' && *d <= '9' && id < 256; ++d) id = id * 10 + (*d - '0');
            return id;
        }
        while (*w != 0 && *w != ' ') ++w;
    }
    return -1;
}

int state_of(int index) { return __atomic_load_n(&g_state[index], __ATOMIC_ACQUIRE); }

bool start_one(int index, uint32_t apic_id, bool silent) {
    uint64_t stack = pmm::alloc_contiguous(kApStackPages);
    if (stack == 0) {
        kprintf("popek-os: cpu %d (apic %u): no memory for its stack; going on without it\n", index, apic_id);
        return false;
    }
    g_stack[index] = stack;
    __atomic_store_n(&g_state[index], kStarting, __ATOMIC_RELEASE);
    ApTrampolineParams* p = params();
    p->cr3 = kernel_root();
    p->stack = reinterpret_cast<uint64_t>(phys_to_virt(stack)) + kApStackPages * kPageSize;
    p->entry = reinterpret_cast<uint64_t>(&ap_entry_point);
    p->arg = static_cast<uint64_t>(index);
    __atomic_store_n(&p->started, 0u, __ATOMIC_RELEASE);

    if (!silent) lapic::send_init(apic_id);
    wait_ticks(kInitWaitTicks, [] { return false; });
    if (!silent) lapic::send_startup(apic_id, static_cast<uint8_t>(kTrampolinePage >> 12));
    auto started = [p] { return __atomic_load_n(&p->started, __ATOMIC_ACQUIRE) != 0; };
    if (!wait_ticks(kSipiWaitTicks, started) && !silent)
        lapic::send_startup(apic_id, static_cast<uint8_t>(kTrampolinePage >> 12));
    wait_ticks(kUpWaitTicks, [index] { return state_of(index) != kStarting; });

    switch (state_of(index)) {
    case kUp:
        kprintf("popek-os: cpu %d up (apic %u)\n", index, apic_id);
        return true;
    case kFailed:
        kprintf("popek-os: cpu %d (apic %u) failed: %s; going on without it\n", index, apic_id, g_failure[index]);
        break;
    case kStarting:
        kprintf("popek-os: cpu %d (apic %u) did not answer (%s); going on without it\n", index, apic_id,
                started() ? "stuck after the trampoline" : "no start-up");
        break;
    }
    // Back to wait-for-SIPI, so that a late start cannot run on parameters meant for the next CPU.
    // Its stack is not reused: a CPU that misbehaved once may still be on it.
    lapic::send_init(apic_id);
    return false;
}

}  // namespace

int start_secondary_cpus(uint64_t rsdp, const char* cmdline, const Hooks& hooks) {
    acpi::CpuList list;
    const char* reason = "";
    if (!acpi::read_cpus(rsdp, list, &reason)) {
        kprintf("popek-os: smp: %s; running on the boot cpu only\n", reason);
        return 1;
    }
    const uint32_t self = lapic::id();
    cpu_at(0).apic_id = self;
    if (list.count <= 1) return 1;   // one vCPU: the boot as it always was
    g_hooks = hooks;
    if (!hooks.prepare_kick(0, &reason)) {
        kprintf("popek-os: smp: boot cpu: %s; running on the boot cpu only\n", reason);
        return 1;
    }
    memcpy(phys_to_virt(kTrampolinePage), ap_trampoline_start,
           static_cast<size_t>(ap_trampoline_end - ap_trampoline_start));
    const long silent = silent_apic(cmdline);
    int next = 1;
    for (int i = 0; i < list.count; ++i) {
        const uint32_t id = list.apic_ids[i];
        if (id == self) continue;
        // 0xff is the xAPIC broadcast destination, and an INIT to a CPU already up would reset it:
        // a table naming either is wrong, and those entries are skipped.
        bool repeated = id == 0xff;
        for (int j = 0; j < i && !repeated; ++j) repeated = list.apic_ids[j] == id;
        if (repeated) {
            kprintf("popek-os: smp: MADT entry for apic %u ignored (broadcast or repeated id)\n", id);
            continue;
        }
        if (next == kMaxCpus) {
            kprintf("popek-os: cpu (apic %u) not started: popek-os runs at most %d cpus\n", id, kMaxCpus);
            continue;
        }
        start_one(next, id, static_cast<long>(id) == silent);
        ++next;   // a CPU that did not come up keeps its index: nothing else may use its stack
    }
    if (list.ignored > 0) kprintf("popek-os: smp: %d more cpus in the MADT ignored\n", list.ignored);
    kprintf("popek-os: smp: %d of %d cpus running\n", cpu_count(), list.count + list.ignored);
    return cpu_count();
}

}  // namespace pos::smp

/// First C++ code of an AP (from the trampoline, interrupts off, on its own stack).
extern "C" [[noreturn]] void ap_entry_point(uint64_t arg) {
    using namespace pos;
    using namespace pos::smp;
    const int index = static_cast<int>(arg);
    Cpu& cpu = cpu_at(index);
    cpu_init(cpu, index);
    cpu.apic_id = lapic::id();
    lapic::init();
    const char* reason = "";
    if (!g_hooks.setup_cpu(index, &reason)) {
        g_failure[index] = reason;
        __atomic_store_n(&g_state[index], kFailed, __ATOMIC_RELEASE);
        for (;;) asm volatile("cli; hlt");
    }
    uint64_t base = reinterpret_cast<uint64_t>(phys_to_virt(g_stack[index]));
    sched_init_cpu(base, base + kApStackPages * kPageSize);
    __atomic_store_n(&g_state[index], kUp, __ATOMIC_RELEASE);
    sched_run_idle();
}
