#pragma once
/// Thin wrappers around the x86-64 instructions the kernel needs (Intel SDM Vol. 2).
#include <stdint.h>

namespace pos::x86 {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }

inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t{hi} << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)));
}

struct CpuidResult { uint32_t eax, ebx, ecx, edx; };
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline uint64_t read_cr2() { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
inline void invlpg(uint64_t va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }

inline uint64_t read_flags() {
    uint64_t f;
    asm volatile("pushfq; popq %0" : "=r"(f)::"memory");
    return f;
}
inline bool interrupts_enabled() { return (read_flags() & (1u << 9)) != 0; }
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
/// Enables interrupts and halts atomically (the STI shadow covers HLT): no wake-up is lost.
inline void sti_hlt() { asm volatile("sti; hlt" ::: "memory"); }
inline void pause() { asm volatile("pause"); }
inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t{hi} << 32) | lo;
}

// MSRs (SDM Vol. 4, table 2-2).
inline constexpr uint32_t kMsrEfer = 0xc0000080, kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082,
                          kMsrSfmask = 0xc0000084, kMsrFsBase = 0xc0000100, kMsrGsBase = 0xc0000101,
                          kMsrKernelGsBase = 0xc0000102, kMsrApicBase = 0x1b;

}  // namespace pos::x86
