/// Control registers, EFER and MSRs (SDM Vol. 3A 2.5, 2.2.1, 9.8.5 mode switching; Vol. 4 MSRs).
#include "emu/cpu.h"
#include "emu/irqchip/local_apic.h"

namespace popek::emu {
namespace {

constexpr uint64_t kCr0Cd = 1ULL << 30, kCr0Nw = 1ULL << 29;
constexpr uint64_t kCr4Supported = (1u << 2) | (1u << 3) | hv::kCr4Pse | hv::kCr4Pae | (1u << 6) | hv::kCr4Pge |
                                   (1u << 8) | hv::kCr4Osfxsr | hv::kCr4Osxmmexcpt | kCr4Umip | hv::kCr4Smap |
                                   hv::kCr4Pke | hv::kCr4Pks;
constexpr uint64_t kEferSupported = hv::kEferSce | hv::kEferLme | hv::kEferLma | hv::kEferNxe;

bool canonical(uint64_t v) { return static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16) == v; }

}  // namespace

void Cpu::write_cr0(uint64_t v) {
    if (v >> 32) raise(kGp, 0);
    if ((v & hv::kCr0Pg) && !(v & hv::kCr0Pe)) raise(kGp, 0);
    if ((v & kCr0Nw) && !(v & kCr0Cd)) raise(kGp, 0);
    v |= hv::kCr0Et;
    const bool pg_on = (v & hv::kCr0Pg) && !(cr0 & hv::kCr0Pg);
    const bool pg_off = !(v & hv::kCr0Pg) && (cr0 & hv::kCr0Pg);
    if (pg_on && (efer & hv::kEferLme)) {
        // Activating IA-32e mode (SDM Vol. 3A 9.8.5): needs PAE and a non-64-bit CS.
        if (!(cr4 & hv::kCr4Pae) || seg[kCs].l) raise(kGp, 0);
        efer |= hv::kEferLma;
    }
    if (pg_off && long_mode) {
        if (mode64) raise(kGp, 0);
        efer &= ~hv::kEferLma;
    }
    const uint64_t changed = cr0 ^ v;
    cr0 = v;
    if (changed & (hv::kCr0Pg | hv::kCr0Pe | hv::kCr0Wp)) flush_tlb();
    update_mode();
    brk = true;
}

void Cpu::write_cr3(uint64_t v) {
    if (long_mode && (v >> 40)) raise(kGp, 0);
    cr3 = v;
    flush_tlb_non_global();
}

void Cpu::write_cr4(uint64_t v) {
    if (v & ~kCr4Supported) raise(kGp, 0);
    if (long_mode && !(v & hv::kCr4Pae)) raise(kGp, 0);
    // SMAP and protection keys change what every cached translation allows (SDM Vol. 3A 4.6).
    if ((cr4 ^ v) & (hv::kCr4Pae | hv::kCr4Pse | hv::kCr4Pge | hv::kCr4Smap | hv::kCr4Pke | hv::kCr4Pks)) flush_tlb();
    cr4 = v;
    update_tlb_class();
}

void Cpu::write_efer(uint64_t v) {
    if (v & ~kEferSupported) raise(kGp, 0);
    if ((cr0 & hv::kCr0Pg) && ((v ^ efer) & hv::kEferLme)) raise(kGp, 0);
    efer = (v & ~hv::kEferLma) | (efer & hv::kEferLma);   // LMA is read-only
    flush_tlb();
    update_mode();
}

uint64_t Cpu::tsc() { return static_cast<uint64_t>(static_cast<int64_t>(m_shared.clock.tsc_now()) + tsc_offset); }

namespace {

// IA32_ARCH_CAPABILITIES (SDM Vol. 4 table 2-2, MSR 0x10a): the guest's code runs interpreted or
// retranslated, never speculatively as written, so none of the speculative-execution flaws its
// kernel would otherwise work around can be exploited through it (and the workarounds cost the
// engine dearly: KPTI makes kernel pages non-global, so every CR3 write drops the engine's
// TLB and jump cache; retpolines and return thunks double the blocks of every call and return).
// RDCL_NO(0) IBRS_ALL(1) SKIP_L1DFL_VMENTRY(3) SSB_NO(4) MDS_NO(5) PSCHANGE_MC_NO(6) TAA_NO(8)
// SBDR_SSDP_NO(13) FBSDP_NO(14) PSDP_NO(15) BHI_NO(20) PBRSB_NO(24) GDS_NO(26) RFDS_NO(27) ITS_NO(62).
constexpr uint64_t kArchCapabilities = (1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) |
                                       (1ULL << 6) | (1ULL << 8) | (1ULL << 13) | (1ULL << 14) | (1ULL << 15) |
                                       (1ULL << 20) | (1ULL << 24) | (1ULL << 26) | (1ULL << 27) | (1ULL << 62);
constexpr uint32_t kMsrSpecCtrl = 0x48, kMsrPredCmd = 0x49, kMsrArchCapabilities = 0x10a;
constexpr uint64_t kSpecCtrlBits = 0x7;   ///< IBRS, STIBP, SSBD

}  // namespace

uint64_t Cpu::read_msr(uint32_t msr) {
    uint64_t v = 0;
    if (CpuHooks* h = m_shared.hooks; h && h->read_msr(*this, msr, v)) return v;
    if (m_ints && msr != kMsrTsc && m_ints->read_msr(msr, v)) return v;
    switch (msr) {
        case kMsrTsc: return tsc();
        // IA32_TSC_ADJUST (SDM Vol. 3B 18.17.3) is this vCPU's offset from the VM's clock: WRMSR to
        // IA32_TSC changes both by the same amount, WRMSR to it moves the TSC.
        case kMsrTscAdjust: return static_cast<uint64_t>(tsc_offset);
        case kMsrApicBase: return apic_base;
        case kMsrEfer: return efer;
        case kMsrStar: return star;
        case kMsrLstar: return lstar;
        case kMsrCstar: return cstar;
        case kMsrSfmask: return sfmask;
        case kMsrFsBase: return seg[kFs].base;
        case kMsrGsBase: return seg[kGs].base;
        case kMsrKernelGsBase: return kernel_gs_base;
        case kMsrTscAux: return tsc_aux;
        case kMsrSysenterCs: return sysenter_cs;
        case kMsrSysenterEsp: return sysenter_esp;
        case kMsrSysenterEip: return sysenter_eip;
        case kMsrPat: return pat;
        case kMsrMiscEnable: return misc_enable;
        case 0x8b: return 0;      // IA32_BIOS_SIGN_ID (microcode revision)
        case 0x179: return 0;     // IA32_MCG_CAP: no machine-check banks, no MCG_CTL (read-only)
        case 0x1d9: return 0;     // IA32_DEBUGCTL: no LBR, no BTF
        // MSR_PLATFORM_INFO (SDM Vol. 4 table 2-12): bit 31, CPUID faulting is supported; no
        // ratios are reported (guests take the TSC frequency from CPUID 0x15).
        case kMsrPlatformInfo: return 1ULL << 31;
        case kMsrMiscFeaturesEnables: return misc_features_enables;
        case 0x3a: return 1;      // IA32_FEATURE_CONTROL: locked, no VMX
        case kMsrArchCapabilities: return kArchCapabilities;
        case kMsrSpecCtrl: return spec_ctrl;
        case kMsrPkrs: return pkrs;
        default: raise(kGp, 0);   // IA32_PRED_CMD is write-only
    }
}

void Cpu::write_msr(uint32_t msr, uint64_t v) {
    if (CpuHooks* h = m_shared.hooks; h && h->write_msr(*this, msr, v)) return;
    // IA32_APIC_BASE: the base up to MAXPHYADDR (40, CPUID 0x80000008), global enable, BSP and,
    // with a local APIC (which offers x2APIC), EXTD are its bits; the rest is reserved: #GP. So
    // are the mode changes x2APIC forbids (SDM Vol. 3A 10.4.4, 10.12.1, 10.12.5).
    if (msr == kMsrApicBase) {
        uint64_t bits = 0x000000fffffff000ull | kApicBaseEnable | kApicBaseBsp | (m_ints ? kApicBaseExtd : 0);
        uint64_t old = apic_base;
        if (m_ints) (void)m_ints->read_msr(kMsrApicBase, old);
        if ((v & ~bits) || !apic_base_transition_valid(old, v)) raise(kGp, 0);
    }
    if (m_ints && msr != kMsrTsc && m_ints->write_msr(msr, v)) {
        schedule.service = true;   // (deterministic runs: right after this block-ending instruction)
        budget = 0;   // TSC deadline or x2APIC: the timer's deadline (or a deliverable interrupt) changed
        if (msr == kMsrApicBase) {
            apic_base = v;
            flush_tlb();   // the APIC page may have moved, or gone (x2APIC mode)
        }
        return;
    }
    auto need_canonical = [&](uint64_t x) { if (!canonical(x)) raise(kGp, 0); };
    switch (msr) {
        case kMsrTsc: tsc_offset = static_cast<int64_t>(v - m_shared.clock.tsc_now()); break;
        case kMsrTscAdjust: tsc_offset = static_cast<int64_t>(v); break;
        case kMsrApicBase: apic_base = v; flush_tlb(); break;
        case kMsrEfer: write_efer(v); break;
        case kMsrStar: star = v; break;
        case kMsrLstar: need_canonical(v); lstar = v; break;
        case kMsrCstar: need_canonical(v); cstar = v; break;
        case kMsrSfmask: sfmask = v & 0xffffffffULL; break;
        case kMsrFsBase: need_canonical(v); seg[kFs].base = v; break;
        case kMsrGsBase: need_canonical(v); seg[kGs].base = v; break;
        case kMsrKernelGsBase: need_canonical(v); kernel_gs_base = v; break;
        case kMsrTscAux: if (v >> 32) raise(kGp, 0); tsc_aux = v; break;
        case kMsrSysenterCs: sysenter_cs = v & 0xffff; break;
        case kMsrSysenterEsp: need_canonical(v); sysenter_esp = v; break;
        case kMsrSysenterEip: need_canonical(v); sysenter_eip = v; break;
        case kMsrPat:
            // Each entry must be a valid memory type (0, 1, 4, 5, 6, 7; SDM Vol. 3A 11.12.2).
            for (int k = 0; k < 8; ++k) {
                uint64_t t = (v >> (8 * k)) & 0xff;
                if (t == 2 || t == 3 || t > 7) raise(kGp, 0);
            }
            pat = v;
            break;
        case kMsrMiscEnable: misc_enable = v; break;
        case 0x8b: break;
        case kMsrSpecCtrl: if (v & ~kSpecCtrlBits) raise(kGp, 0); spec_ctrl = v; break;
        case kMsrPredCmd: if (v & ~1ULL) raise(kGp, 0); break;   // IBPB: nothing is predicted
        // IA32_PKRS (SDM Vol. 3A 4.6.2): bits 63:32 reserved. Cached translations hold the rights
        // the old value gave: all go (WRMSR to it is rare, unlike STAC/CLAC).
        case kMsrPkrs:
            if (v >> 32) raise(kGp, 0);
            pkrs = static_cast<uint32_t>(v);
            flush_tlb();
            break;
        case 0x1d9: if (v != 0) raise(kGp, 0); break;   // IA32_DEBUGCTL: none of its features
        // MSR_MISC_FEATURES_ENABLES: bit 0 enables CPUID faulting (system.cpp); the rest is
        // reserved here (MSR_PLATFORM_INFO is read-only: default).
        case kMsrMiscFeaturesEnables: if (v & ~kMiscCpuidFaulting) raise(kGp, 0); misc_features_enables = v; break;
        default: raise(kGp, 0);
    }
}

}  // namespace popek::emu
