// Moving a CpuRecord in and out of the own engine's emu::Cpu (snapshot/cpu_record.h).
#include <algorithm>
#include <cstring>

#include "emu/cpu.h"
#include "snapshot/cpu_record.h"

namespace popek::snapshot {

CpuRecord capture(const emu::Cpu& cpu, bool up) {
    CpuRecord c;
    std::copy(std::begin(cpu.gpr), std::end(cpu.gpr), c.gpr.begin());
    c.rip = cpu.rip;
    c.rflags = cpu.rflags;
    std::copy(std::begin(cpu.seg), std::end(cpu.seg), c.seg.begin());
    c.tr = cpu.tr;
    c.ldtr = cpu.ldtr;
    c.gdt = cpu.gdt;
    c.idt = cpu.idt;
    c.cr0 = cpu.cr0;
    c.cr2 = cpu.cr2;
    c.cr3 = cpu.cr3;
    c.cr4 = cpu.cr4;
    c.efer = cpu.efer;
    std::copy(std::begin(cpu.dr), std::end(cpu.dr), c.dr.begin());
    c.star = cpu.star;
    c.lstar = cpu.lstar;
    c.cstar = cpu.cstar;
    c.sfmask = cpu.sfmask;
    c.kernel_gs_base = cpu.kernel_gs_base;
    c.tsc_aux = cpu.tsc_aux;
    c.sysenter_cs = cpu.sysenter_cs;
    c.sysenter_esp = cpu.sysenter_esp;
    c.sysenter_eip = cpu.sysenter_eip;
    c.pat = cpu.pat;
    c.misc_enable = cpu.misc_enable;
    c.mtrr_def_type = cpu.mtrr_def_type;
    c.apic_base = cpu.apic_base;
    c.spec_ctrl = cpu.spec_ctrl;
    c.misc_features_enables = cpu.misc_features_enables;
    c.pkru = cpu.pkru;
    c.pkrs = cpu.pkrs;
    c.tsc_offset = cpu.tsc_offset;
    std::memcpy(c.fxsave.data(), &cpu.fpu, sizeof cpu.fpu);
    c.cpl = cpu.cpl;
    c.interrupt_shadow = cpu.in_interrupt_shadow();
    c.halted = cpu.halted;
    c.nmi_blocked = cpu.nmi_blocked;
    c.db_pending = cpu.debug().db_pending;
    c.db_held = cpu.debug().db_held;
    c.movss_shadow = cpu.debug().movss_shadow;
    c.after_movss = cpu.debug().after_movss;
    c.runnable = cpu.runnable();
    c.waiting_sipi = cpu.waiting_sipi();
    c.up = up;
    return c;
}

void apply(const CpuRecord& c, emu::Cpu& cpu) {
    // load_state sets what it derives (mode, TLB flush, exit port) from the base registers first.
    hv::CpuState st;
    std::copy(c.gpr.begin(), c.gpr.end(), st.gpr.begin());
    st.rip = c.rip;
    st.rflags = c.rflags;
    st.es = c.seg[emu::kEs];
    st.cs = c.seg[emu::kCs];
    st.ss = c.seg[emu::kSs];
    st.ds = c.seg[emu::kDs];
    st.fs = c.seg[emu::kFs];
    st.gs = c.seg[emu::kGs];
    st.tr = c.tr;
    st.ldtr = c.ldtr;
    st.gdt = c.gdt;
    st.idt = c.idt;
    st.cr0 = c.cr0;
    st.cr2 = c.cr2;
    st.cr3 = c.cr3;
    st.cr4 = c.cr4;
    st.efer = c.efer;
    st.apic_base = c.apic_base;
    cpu.load_state(st);   // CR8 is left to the LAPC section, restored after this one
    cpu.rflags = c.rflags;
    std::copy(c.dr.begin(), c.dr.end(), std::begin(cpu.dr));
    cpu.star = c.star;
    cpu.lstar = c.lstar;
    cpu.cstar = c.cstar;
    cpu.sfmask = c.sfmask;
    cpu.kernel_gs_base = c.kernel_gs_base;
    cpu.tsc_aux = c.tsc_aux;
    cpu.sysenter_cs = c.sysenter_cs;
    cpu.sysenter_esp = c.sysenter_esp;
    cpu.sysenter_eip = c.sysenter_eip;
    cpu.pat = c.pat;
    cpu.misc_enable = c.misc_enable;
    cpu.mtrr_def_type = c.mtrr_def_type;
    cpu.spec_ctrl = c.spec_ctrl;
    cpu.misc_features_enables = c.misc_features_enables;
    cpu.pkru = static_cast<uint32_t>(c.pkru);
    cpu.pkrs = static_cast<uint32_t>(c.pkrs);
    cpu.tsc_offset = c.tsc_offset;
    std::memcpy(&cpu.fpu, c.fxsave.data(), sizeof cpu.fpu);
    cpu.cpl = (c.cr0 & hv::kCr0Pe) ? c.cpl : 0;
    cpu.update_mode();
    cpu.flush_tlb();
    cpu.restore_interrupt_shadow(c.interrupt_shadow);
    cpu.halted = c.halted;
    cpu.nmi_blocked = c.nmi_blocked;
    cpu.debug().db_pending = c.db_pending;
    cpu.debug().db_held = c.db_held;
    cpu.debug().movss_shadow = c.movss_shadow;
    cpu.debug().after_movss = c.after_movss;
    cpu.set_runnable(c.runnable);
    cpu.set_waiting_sipi(c.waiting_sipi);
    cpu.shared().vcpus_up.set(cpu.index(), c.up);
    cpu.update_debug();   // DR7 may arm breakpoints
}

}  // namespace popek::snapshot
