#pragma once
/// The own engine's architectural state of one x86-64 CPU: hv::CpuState's registers plus the
/// MSRs, debug registers and x87/SSE register file the engine keeps, and the mode derived from
/// them. A plain value: copied, compared and restored by itself (emu::Cpu derives from it, so
/// handlers name the registers directly: `c.rip`, `c.gpr[...]`).
#include <cstdint>

#include "hv/cpu_state.h"

namespace popek::emu {

/// Segment register numbers in encoding order (SDM Vol. 2A 3.1.1.3 "Sreg").
enum SegReg : uint8_t { kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4, kGs = 5, kNoSeg = 7 };

// RFLAGS (SDM Vol. 1 3.4.3).
inline constexpr uint64_t kCf = 1u << 0, kPf = 1u << 2, kAf = 1u << 4, kZf = 1u << 6, kSf = 1u << 7,
                          kTf = 1u << 8, kIf = 1u << 9, kDf = 1u << 10, kOf = 1u << 11,
                          kIopl = 3u << 12, kNt = 1u << 14, kRf = 1u << 16, kVm = 1u << 17,
                          kAc = 1u << 18, kVif = 1u << 19, kVip = 1u << 20, kId = 1u << 21;
inline constexpr uint64_t kArithFlags = kCf | kPf | kAf | kZf | kSf | kOf;
/// CR4.UMIP (SDM Vol. 3A 2.5): SGDT SIDT SLDT SMSW STR are #GP at CPL > 0.
inline constexpr uint64_t kCr4Umip = 1u << 11;
/// IA32_PKRS (SDM Vol. 4 table 2-2): supervisor protection-key rights (CR4.PKS).
inline constexpr uint32_t kMsrPkrs = 0x6e1;

// DR6 / DR7 bits (SDM Vol. 3B 18.2.3, 18.2.4).
inline constexpr uint64_t kDr6Bd = 1u << 13, kDr6Bs = 1u << 14, kDr7Gd = 1u << 13;

// Exception vectors (SDM Vol. 3A 6.3.1).
enum Vector : uint8_t {
    kDe = 0, kDb = 1, kNmi = 2, kBp = 3, kOfv = 4, kBr = 5, kUd = 6, kNm = 7, kDfv = 8,
    kTs = 10, kNp = 11, kSsf = 12, kGp = 13, kPfv = 14, kMf = 16, kAcv = 17, kMc = 18, kXm = 19,
};

// MSR numbers (SDM Vol. 4 table 2-2); IA32_APIC_BASE is in irqchip/cpu_interrupts.h.
inline constexpr uint32_t kMsrTsc = 0x10, kMsrTscAdjust = 0x3b, kMsrMtrrCap = 0xfe,
                          kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176,
                          kMsrMiscEnable = 0x1a0, kMsrPat = 0x277, kMsrMtrrDefType = 0x2ff,
                          kMsrEfer = 0xc0000080, kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082,
                          kMsrCstar = 0xc0000083, kMsrSfmask = 0xc0000084, kMsrFsBase = 0xc0000100,
                          kMsrGsBase = 0xc0000101, kMsrKernelGsBase = 0xc0000102, kMsrTscAux = 0xc0000103,
                          kMsrPlatformInfo = 0xce, kMsrMiscFeaturesEnables = 0x140;
/// MSR_MISC_FEATURES_ENABLES bit 0: CPUID at CPL > 0 is #GP (Intel's CPUID faulting, SDM Vol. 4
/// table 2-12 and the "Virtualization Technology FlexMigration" application note).
inline constexpr uint64_t kMiscCpuidFaulting = 1;

/// FXSAVE memory layout (SDM Vol. 1 10.5.1, table 10-2); also the engine's x87/SSE register file.
struct alignas(16) FxsaveArea {
    uint16_t fcw = 0x37f, fsw = 0;
    uint8_t ftw = 0, reserved0 = 0;
    uint16_t fop = 0;
    uint64_t fip = 0, fdp = 0;
    uint32_t mxcsr = 0x1f80, mxcsr_mask = 0xffbf;
    uint8_t st[8][16]{};
    uint8_t xmm[16][16]{};
    uint8_t reserved1[96]{};
    bool operator==(const FxsaveArea&) const = default;
};
static_assert(sizeof(FxsaveArea) == 512);

/// Registers and derived mode of one CPU. Only state a real CPU has lives here: the software
/// TLB is emu::Mmu's, the debugger and executor bookkeeping emu::Cpu's.
struct ArchState {
    // ---- registers (SDM Vol. 1 3.4, Vol. 3A 2.5 control registers, Vol. 4 MSRs) ----
    uint64_t gpr[16]{};
    uint64_t rip = 0xfff0;
    uint64_t rflags = 2;
    hv::Segment seg[6];
    hv::Segment tr, ldtr;
    hv::DescriptorTable gdt, idt;
    uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0, efer = 0;
    /// DR0-DR7 (SDM Vol. 3B 18.2; DR4/DR5 alias DR6/DR7 and keep their reset values).
    uint64_t dr[8] = {0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400};
    uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0, tsc_aux = 0;
    uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    uint64_t pat = 0x0007040600070406ULL, misc_enable = 1, mtrr_def_type = 0;
    uint64_t apic_base = 0xfee00900;
    uint64_t spec_ctrl = 0;   ///< IA32_SPEC_CTRL (stored; nothing to control on an emulated CPU)
    uint64_t misc_features_enables = 0;   ///< MSR_MISC_FEATURES_ENABLES (CPUID faulting)
    /// PKRU (RDPKRU/WRPKRU) and IA32_PKRS (MSR 0x6e1): 2 bits per protection key, AD at 2k and
    /// WD at 2k+1 (SDM Vol. 3A 4.6.2); 0 at power-up.
    uint32_t pkru = 0, pkrs = 0;
    int64_t tsc_offset = 0;
    FxsaveArea fpu;

    // ---- derived mode (Cpu::update_mode() after CR0/EFER/CS/RFLAGS.VM changes) ----
    uint8_t cpl = 0;
    uint8_t code_bits = 16;   ///< 16, 32 or 64: default operand/address size of the code
    bool long_mode = false;   ///< EFER.LMA
    bool mode64 = false;      ///< 64-bit submode of long mode
    bool interrupt_shadow = false;  ///< STI / MOV SS blocking for one instruction
    bool halted = false;            ///< HLT executed, waiting for an interrupt
    /// An NMI was delivered and no IRET has run since: further NMIs stay pending (SDM Vol. 3A
    /// 6.7.1 "Handling Multiple NMIs").
    bool nmi_blocked = false;

    bool operator==(const ArchState&) const = default;

    /// The xAPIC register page overlays `gpa`'s page: IA32_APIC_BASE enable (11) without EXTD
    /// (10; x2APIC mode has no page, SDM Vol. 3A 10.12.1.2), at its base (10.4.1).
    bool apic_page(uint64_t gpa) const {
        return (apic_base & 0xc00) == 0x800 && (gpa & ~0xfffULL) == (apic_base & 0x000ffffffffff000ULL);
    }

    // ---- register access ----
    template <class T> T reg(int r) const;
    template <class T> void set_reg(int r, T v);
    uint64_t stack_mask() const { return mode64 ? ~0ULL : seg[kSs].db ? 0xffffffffULL : 0xffffULL; }
    /// True outside 64-bit mode when DS, ES and SS are flat (base 0, limit 4 GiB, usable,
    /// writable expand-up data: Cpu::linear() checks nothing else) and the stack is 32 bits wide:
    /// then the offset of a DS/ES/SS access is its linear address (SDM Vol. 3A 3.4.5, 5.3).
    bool flat_data32() const {
        for (int s : {kEs, kSs, kDs}) {
            const hv::Segment& sg = seg[s];
            if (sg.base != 0 || sg.limit != 0xffffffffu) return false;
            if ((cr0 & hv::kCr0Pe) && (sg.unusable || !sg.present || (sg.type & 0xe) != 0x2)) return false;
        }
        return seg[kSs].db;
    }
    /// Linear address of the next instruction (CS base outside 64-bit mode).
    uint64_t linear_rip() const { return mode64 ? rip : ((seg[kCs].base + rip) & 0xffffffffULL); }
};

template <class T>
inline T ArchState::reg(int r) const {
    if constexpr (sizeof(T) == 1) {
        if (r >= 16) return static_cast<T>(gpr[r - 16] >> 8);   // AH, CH, DH, BH
    }
    return static_cast<T>(gpr[r]);
}

template <class T>
inline void ArchState::set_reg(int r, T v) {
    if constexpr (sizeof(T) == 1) {
        if (r >= 16) {
            gpr[r - 16] = (gpr[r - 16] & ~0xff00ULL) | (uint64_t{v} << 8);
            return;
        }
        gpr[r] = (gpr[r] & ~0xffULL) | v;
    } else if constexpr (sizeof(T) == 2) {
        gpr[r] = (gpr[r] & ~0xffffULL) | v;
    } else {
        gpr[r] = v;   // 32-bit writes zero-extend (SDM Vol. 1 3.4.1.1)
    }
}

}  // namespace popek::emu
