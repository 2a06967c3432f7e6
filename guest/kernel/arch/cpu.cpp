#include "arch/cpu.h"

#include "arch/x86.h"
#include "common/string.h"

extern "C" char isr_stubs[];
extern "C" void syscall_entry();

namespace pos {
namespace {

/// Interrupt gate (SDM Vol. 3A 6.14.1, figure 6-8).
struct __attribute__((packed)) IdtGate {
    uint16_t offset_low, selector;
    uint8_t ist, type_attr;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct __attribute__((packed)) TablePointer {
    uint16_t limit;
    uint64_t base;
};

IdtGate g_idt[256];
Cpu g_cpus[kMaxCpus];
int g_online = 0;
constexpr int kIsrStubSize = 16;   // arch/entry.S aligns each vector's stub to 16 bytes

void build_idt() {
    for (int v = 0; v < 256; ++v) {
        auto addr = reinterpret_cast<uint64_t>(isr_stubs + v * kIsrStubSize);
        IdtGate& g = g_idt[v];
        g.offset_low = static_cast<uint16_t>(addr);
        g.selector = kKernelCode;
        g.ist = 0;
        g.type_attr = 0x8e;   // present, DPL 0, 64-bit interrupt gate (IF cleared on entry)
        g.offset_mid = static_cast<uint16_t>(addr >> 16);
        g.offset_high = static_cast<uint32_t>(addr >> 32);
        g.reserved = 0;
    }
}

}  // namespace

Cpu& cpu_at(int index) { return g_cpus[index]; }
int cpu_count() {
    int n = __atomic_load_n(&g_online, __ATOMIC_ACQUIRE);
    return n > 0 ? n : 1;   // before the scheduler starts: the boot CPU
}

void cpu_set_online(Cpu& cpu) {
    __atomic_store_n(&cpu.online, true, __ATOMIC_RELEASE);
    __atomic_fetch_add(&g_online, 1, __ATOMIC_ACQ_REL);
}

void cpu_init(Cpu& cpu, int id) {
    memset(&cpu, 0, sizeof cpu);
    cpu.self = &cpu;
    cpu.id = id;
    // Code/data descriptors (SDM Vol. 3A 3.4.5): L=1 for 64-bit code.
    cpu.gdt[1] = 0x00af9a000000ffff;   // kernel code
    cpu.gdt[2] = 0x00cf92000000ffff;   // kernel data
    cpu.gdt[3] = 0;                    // (32-bit user code: unused)
    cpu.gdt[4] = 0x00cff2000000ffff;   // user data, DPL 3
    cpu.gdt[5] = 0x00affa000000ffff;   // user code, DPL 3
    auto tss = reinterpret_cast<uint64_t>(&cpu.tss);
    uint64_t limit = sizeof(Tss) - 1;
    // 16-byte available 64-bit TSS descriptor (SDM Vol. 3A 8.2.3, figure 8-4).
    cpu.gdt[6] = (limit & 0xffff) | ((tss & 0xffffff) << 16) | (uint64_t{0x89} << 40) |
                 (((tss >> 24) & 0xff) << 56);
    cpu.gdt[7] = tss >> 32;
    cpu.tss.iomap_base = sizeof(Tss);   // no I/O permission bitmap: ring 3 has no port access

    if (id == 0) build_idt();
    TablePointer gdtr{sizeof cpu.gdt - 1, reinterpret_cast<uint64_t>(cpu.gdt)};
    TablePointer idtr{sizeof g_idt - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile(
        "lgdt %0\n"
        "lidt %1\n"
        "pushq %2\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1: mov %3, %%eax\n"
        "mov %%eax, %%ds\n"
        "mov %%eax, %%es\n"
        "mov %%eax, %%ss\n"
        "xor %%eax, %%eax\n"
        "mov %%eax, %%fs\n"
        "mov %%eax, %%gs\n"
        "ltr %w4\n"
        :
        : "m"(gdtr), "m"(idtr), "i"(uint64_t{kKernelCode}), "i"(uint32_t{kKernelData}), "r"(kTssSelector)
        : "rax", "memory");
    x86::wrmsr(x86::kMsrGsBase, reinterpret_cast<uint64_t>(&cpu));
    x86::wrmsr(x86::kMsrKernelGsBase, 0);
    // SYSCALL/SYSRET (SDM Vol. 3A 5.8.8): STAR selects the segments, LSTAR the entry, SFMASK
    // clears IF, DF, TF and AC on entry.
    x86::wrmsr(x86::kMsrStar, (uint64_t{kUserData - 8 - 3} << 48) | (uint64_t{kKernelCode} << 32));
    x86::wrmsr(x86::kMsrLstar, reinterpret_cast<uint64_t>(&syscall_entry));
    x86::wrmsr(x86::kMsrSfmask, 0x40700);
}

void cpu_set_kernel_stack(uint64_t top) {
    Cpu* cpu = this_cpu();
    cpu->tss.rsp[0] = top;
    cpu->kernel_stack = top;
}

}  // namespace pos
