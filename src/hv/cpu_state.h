#pragma once
/// Engine-neutral architectural state of one x86-64 vCPU (Intel SDM Vol. 3A ch. 2-3).
/// The KVM backend converts to/from kvm_regs/kvm_sregs; the own engine uses it as its state.
#include <array>
#include <cstdint>

namespace popek::hv {

enum Gpr : int { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/// A segment register with its hidden descriptor cache (SDM Vol. 3A 3.4.3).
struct Segment {
    uint64_t base = 0;
    uint32_t limit = 0xffff;   ///< byte granular (already expanded when G=1)
    uint16_t selector = 0;
    uint8_t type = 0;          ///< descriptor type field (4 bits)
    bool s = true;             ///< code/data (1) vs system (0)
    uint8_t dpl = 0;
    bool present = true;
    bool avl = false;
    bool l = false;            ///< 64-bit code segment
    bool db = false;           ///< default operand size 32 bits
    bool g = false;
    bool unusable = false;
    bool operator==(const Segment&) const = default;
};

struct DescriptorTable {
    uint64_t base = 0;
    uint16_t limit = 0xffff;
    bool operator==(const DescriptorTable&) const = default;
};

struct CpuState {
    std::array<uint64_t, 16> gpr{};
    uint64_t rip = 0xfff0;
    uint64_t rflags = 0x2;
    Segment cs, ds, es, fs, gs, ss, tr, ldtr;
    DescriptorTable gdt, idt;
    uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
    uint64_t efer = 0;
    uint64_t apic_base = 0xfee00900;
};

// Control register and EFER bits used across engines (SDM Vol. 3A 2.5, 2.2.1).
inline constexpr uint64_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Em = 1u << 2, kCr0Ts = 1u << 3,
                          kCr0Et = 1u << 4, kCr0Ne = 1u << 5, kCr0Wp = 1u << 16, kCr0Am = 1u << 18,
                          kCr0Pg = 1u << 31;
inline constexpr uint64_t kCr4Pse = 1u << 4, kCr4Pae = 1u << 5, kCr4Pge = 1u << 7,
                          kCr4Osfxsr = 1u << 9, kCr4Osxmmexcpt = 1u << 10, kCr4Smap = 1u << 21,
                          kCr4Pke = 1u << 22, kCr4Pks = 1u << 24;
inline constexpr uint64_t kEferSce = 1u << 0, kEferLme = 1u << 8, kEferLma = 1u << 10,
                          kEferNxe = 1u << 11;

}  // namespace popek::hv
