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

struct Cpu {
    Cpu* self;               ///< %gs:0
    uint64_t kernel_stack;   ///< %gs:8  top of the current thread's kernel stack (syscall entry)
    uint64_t user_stack;     ///< %gs:16 user rsp saved by syscall entry
    Thread* current;         ///< %gs:24
    Thread* idle;
    int id;
    uint64_t gdt[8];
    Tss tss;
};
static_assert(offsetof(Cpu, kernel_stack) == 8 && offsetof(Cpu, user_stack) == 16);

inline Cpu* this_cpu() {
    Cpu* c;
    asm volatile("mov %%gs:0, %0" : "=r"(c));
    return c;
}

/// Loads the GDT, TSS and GS base of the boot CPU and the shared IDT; programs SYSCALL.
void cpu_init(Cpu& cpu, int id);
/// Sets RSP0 (TSS) and the syscall stack for the thread about to run.
void cpu_set_kernel_stack(uint64_t top);

}  // namespace pos
