#pragma once
/// One vCPU's state as a snapshot holds it (docs/snapshot.md "CPU "): everything the guest can
/// observe of an own-engine vCPU, engine-independent (interp and bt share emu::Cpu; translated
/// code, TLBs and decode caches are rebuilt). encode/decode are the wire format; capture/apply
/// (cpu_capture.cpp) move it in and out of an emu::Cpu.
#include <array>
#include <cstdint>

#include "hv/cpu_state.h"
#include "snapshot/snap_codec.h"

namespace popek::emu {
class Cpu;
}

namespace popek::snapshot {

struct CpuRecord {
    /// SDM Vol. 1 3.4: general-purpose registers, RIP, RFLAGS.
    std::array<uint64_t, 16> gpr{};
    uint64_t rip = 0, rflags = 2;
    /// SDM Vol. 3A 3.4.3: segment registers with their hidden parts (ES CS SS DS FS GS), TR, LDTR;
    /// 3.5.1: GDTR, IDTR.
    std::array<hv::Segment, 6> seg{};
    hv::Segment tr, ldtr;
    hv::DescriptorTable gdt, idt;
    /// SDM Vol. 3A 2.5 control registers (CR8 is the local APIC's TPR: the LAPC section), 2.2.1 EFER.
    uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, efer = 0;
    /// SDM Vol. 3B 18.2 debug registers DR0-DR7 (DR4/DR5 alias DR6/DR7).
    std::array<uint64_t, 8> dr{};
    /// SDM Vol. 4 table 2-2: the MSRs the engine keeps.
    uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0, tsc_aux = 0;
    uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    uint64_t pat = 0, misc_enable = 0, mtrr_def_type = 0, apic_base = 0, spec_ctrl = 0, misc_features_enables = 0;
    /// PKRU and IA32_PKRS (SDM Vol. 3A 4.6.2): protection-key rights, 32 bits each.
    uint64_t pkru = 0, pkrs = 0;
    /// IA32_TSC_ADJUST (SDM Vol. 3B 18.17.3): this vCPU's offset from the VM's guest clock.
    int64_t tsc_offset = 0;
    /// SDM Vol. 1 10.5.1: the FXSAVE image (x87, MMX, SSE, MXCSR). The engine has no AVX, so the
    /// XSAVE state beyond it is empty.
    std::array<uint8_t, 512> fxsave{};
    /// Execution state between instructions: CPL, STI/MOV SS shadow (SDM Vol. 3A 6.8.3), HLT,
    /// NMI blocking (6.7.1), a pending trap-class #DB, wait-for-SIPI, the held MOV SS #DB.
    uint8_t cpl = 0;
    bool interrupt_shadow = false, halted = false, nmi_blocked = false;
    uint32_t db_pending = 0, db_held = 0;
    bool movss_shadow = false, after_movss = false;
    bool runnable = true, waiting_sipi = false, up = true;
};

void encode(Writer& w, const CpuRecord& c);
/// Range-checks what the engine relies on (CPL, segment fields, the FXSAVE reserved layout).
CpuRecord decode_cpu(Reader& r);

CpuRecord capture(const emu::Cpu& cpu, bool up);
/// Sets `cpu` from `c` (before its thread runs); caches are flushed.
void apply(const CpuRecord& c, emu::Cpu& cpu);

}  // namespace popek::snapshot
