/// Fast system calls: SYSCALL/SYSRET (SDM Vol. 2B, AMD64 Vol. 2 6.1.1), SYSENTER/SYSEXIT, SWAPGS.
#include "emu/interp/families.h"

namespace popek::emu {
namespace {

/// Flat segment as SYSCALL/SYSENTER load it (the descriptor tables are not read).
hv::Segment flat(uint16_t selector, bool code, uint8_t dpl, bool l) {
    hv::Segment s;
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = selector;
    s.type = code ? 0xb : 0x3;
    s.s = true;
    s.dpl = dpl;
    s.present = true;
    s.l = code && l;
    s.db = !(code && l);
    s.g = true;
    s.unusable = false;
    return s;
}

void syscall(Cpu& c, const Insn&) {
    if (!(c.efer & hv::kEferSce) || !c.long_mode) c.raise(kUd);
    // The target depends on the mode SYSCALL came from (compatibility mode: CSTAR, AMD64 Vol. 2
    // 6.1.1), decided before CS becomes the 64-bit one.
    const uint64_t target = c.mode64 ? c.lstar : c.cstar;
    const uint16_t sel = static_cast<uint16_t>((c.star >> 32) & 0xfffc);
    c.gpr[hv::RCX] = c.next_rip;
    c.gpr[hv::R11] = c.rflags & ~kRf;
    c.seg[kCs] = flat(sel, true, 0, true);
    c.seg[kSs] = flat(static_cast<uint16_t>(sel + 8), false, 0, false);
    c.cpl = 0;
    c.update_mode();
    c.next_rip = target;
    c.rflags = (c.rflags & ~(c.sfmask | kRf)) | 2;
    c.update_tlb_class();   // IA32_FMASK may clear AC (Linux does: SMAP enforced on entry)
    c.brk = true;
    c.debug().step_at_end = true;   // TF cleared by IA32_FMASK: no single-step trap (see DebugState::step_at_end)
}

void sysret(Cpu& c, const Insn& i) {
    if (!(c.efer & hv::kEferSce) || !c.long_mode || !c.mode64) c.raise(kUd);
    c.require_cpl0();
    const uint16_t base = static_cast<uint16_t>((c.star >> 48) & 0xfffc);
    const bool to64 = i.osize == 8;
    if (to64 && (static_cast<uint64_t>(static_cast<int64_t>(c.gpr[hv::RCX] << 16) >> 16) != c.gpr[hv::RCX]))
        c.raise(kGp, 0);
    c.seg[kCs] = flat(static_cast<uint16_t>((to64 ? base + 16 : base) | 3), true, 3, to64);
    // SS.selector = STAR[63:48] + 8 with RPL 3; its cached attributes stay flat (SDM SYSRET).
    c.seg[kSs] = flat(static_cast<uint16_t>((base + 8) | 3), false, 3, false);
    c.cpl = 3;
    c.update_mode();
    c.rflags = (c.gpr[hv::R11] & 0x3c7fd7ULL) | 2;
    c.update_tlb_class();
    c.next_rip = to64 ? c.gpr[hv::RCX] : (c.gpr[hv::RCX] & 0xffffffffULL);
    c.brk = true;
    c.budget = 0;
    c.debug().step_at_end = true;   // TF loaded from R11 traps at once, in the user context
}

void sysenter(Cpu& c, const Insn&) {
    if (!(c.cr0 & hv::kCr0Pe)) c.raise(kGp, 0);
    if ((c.sysenter_cs & 0xfffc) == 0) c.raise(kGp, 0);
    const uint16_t sel = static_cast<uint16_t>(c.sysenter_cs & 0xfffc);
    c.rflags &= ~(kVm | kIf | kRf);
    c.seg[kCs] = flat(sel, true, 0, c.long_mode);
    c.seg[kSs] = flat(static_cast<uint16_t>(sel + 8), false, 0, false);
    c.cpl = 0;
    c.update_mode();
    c.gpr[hv::RSP] = c.long_mode ? c.sysenter_esp : (c.sysenter_esp & 0xffffffffULL);
    c.next_rip = c.long_mode ? c.sysenter_eip : (c.sysenter_eip & 0xffffffffULL);
    c.brk = true;
}

void sysexit(Cpu& c, const Insn& i) {
    if (!(c.cr0 & hv::kCr0Pe) || (c.sysenter_cs & 0xfffc) == 0) c.raise(kGp, 0);
    c.require_cpl0();
    const bool to64 = i.osize == 8;
    const uint16_t cs = static_cast<uint16_t>(((c.sysenter_cs & 0xfffc) + (to64 ? 32 : 16)) | 3);
    c.seg[kCs] = flat(cs, true, 3, to64);
    c.seg[kSs] = flat(static_cast<uint16_t>(cs + 8), false, 3, false);
    c.cpl = 3;
    c.update_mode();
    c.gpr[hv::RSP] = to64 ? c.gpr[hv::RCX] : (c.gpr[hv::RCX] & 0xffffffffULL);
    c.next_rip = to64 ? c.gpr[hv::RDX] : (c.gpr[hv::RDX] & 0xffffffffULL);
    c.brk = true;
    c.budget = 0;
}

void swapgs(Cpu& c, const Insn&) {
    if (!c.mode64) c.raise(kUd);
    c.require_cpl0();
    std::swap(c.seg[kGs].base, c.kernel_gs_base);
}

Handler fixed(Handler h) { return h; }

}  // namespace

void register_fastsys(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_SYSCALL, [](const DecodeView&, Insn&) { return fixed(syscall); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_SYSRET, [](const DecodeView&, Insn&) { return fixed(sysret); }, kClsPrivileged | kClsSensitive);
    t.add(ZYDIS_MNEMONIC_SYSENTER, [](const DecodeView&, Insn&) { return fixed(sysenter); }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_SYSEXIT, [](const DecodeView&, Insn&) { return fixed(sysexit); }, kClsPrivileged | kClsSensitive);
    t.add(ZYDIS_MNEMONIC_SWAPGS, [](const DecodeView&, Insn&) { return fixed(swapgs); }, kClsPrivileged | kClsSensitive);
}

}  // namespace popek::emu
