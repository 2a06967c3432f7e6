#pragma once
/// Per-CPU state (reached through GS in the kernel), the GDT with its TSS, and the IDT.
#include <stddef.h>
#include <stdint.h>

namespace pos {

struct Thread;

/// 64-bit TSS (SDM Vol. 3A 8.7, figure 8-11): only RSP0 is used, for traps from ring 3.
struct __attribute__((packed)) Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

// Selectors. SYSRET loads CS = STAR[63:48]+16 and SS = STAR[63:48]+8 (SDM Vol. 2B SYSRET), so
// user data sits right below user code.
inline constexpr uint16_t kKernelCode = 0x08, kKernelData = 0x10, kUserData = 0x20 | 3,
                          kUserCode = 0x28 | 3, kTssSelector = 0x30;

/// Most CPUs popek-os runs on (docs/guest-os.md "SMP"); the MADT may list more, they stay off.
inline constexpr int kMaxCpus = 8;

/// One per CPU, reached through the kernel's GS base. The scheduler fields are only touched with
/// the scheduler lock held or, for this CPU's own flags, with interrupts off.
struct Cpu {
    Cpu* self;               ///< %gs:0
    uint64_t kernel_stack;   ///< %gs:8  top of the current thread's kernel stack (syscall entry)
    uint64_t user_stack;     ///< %gs:16 user rsp saved by syscall entry
    Thread* current;         ///< %gs:24
    Thread* idle;
    int id;                  ///< index 0..cpu_count()-1 (0: the boot CPU)
    uint32_t apic_id;        ///< local APIC ID (MADT)
    bool online;             ///< running the scheduler
    bool need_resched;       ///< switch at the next interrupt exit
    bool kicked;             ///< idle and already sent a wake-up IPI
    uint32_t slice_left;     ///< ticks left in the current thread's time slice
    Thread* switched_from;   ///< the thread this CPU just left (finished after the switch)
    uint64_t gdt[8];
    Tss tss;
};
static_assert(offsetof(Cpu, kernel_stack) == 8 && offsetof(Cpu, user_stack) == 16 && offsetof(Cpu, current) == 24);

inline Cpu* this_cpu() {
    Cpu* c;
    asm volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

/// The running thread, read in one instruction so a migration cannot split the read.
inline Thread* this_cpu_current() {
    Thread* t;
    asm volatile("mov %%gs:24, %0" : "=r"(t));
    return t;
}

/// CPU `index` (0 <= index < kMaxCpus); its fields are set by cpu_init.
Cpu& cpu_at(int index);
/// CPUs online (running the scheduler); 1 until the APs are up.
int cpu_count();
/// Marks this CPU as running the scheduler.
void cpu_set_online(Cpu& cpu);

/// Loads the GDT, TSS and GS base of this CPU and the shared IDT (built by CPU 0); programs SYSCALL.
void cpu_init(Cpu& cpu, int id);
/// Sets RSP0 (TSS) and the syscall stack for the thread about to run.
void cpu_set_kernel_stack(uint64_t top);

}  // namespace pos
