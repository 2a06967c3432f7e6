/// Segment register instructions: MOV to/from Sreg, far JMP/CALL/RET to code segments and (outside
/// long mode) to a TSS or task gate (emu/interp/task_switch.cpp; call gates are not implemented:
/// #GP), LAR LSL VERR VERW ARPL (SDM Vol. 2A/2B).
#include "emu/interp/families.h"
#include "emu/interp/task_switch.h"

namespace popek::emu {

void load_code_segment(Cpu& c, uint16_t selector, uint64_t d, uint8_t new_cpl, uint64_t d_high = 0);  // events.cpp

void load_segment_register(Cpu& c, int s, uint16_t selector) { c.load_data_segment(s, selector); }

namespace {

void mov_to_sreg(Cpu& c, const Insn& i) {
    uint16_t sel = i.k1 == kOpReg ? c.reg<uint16_t>(i.r1) : read_mem<uint16_t>(c, i);
    c.load_data_segment(i.extra, sel);
    if (i.extra == kSs) {
        c.begin_interrupt_shadow();
        c.debug().movss_shadow = true;   // its #DB traps wait for the next instruction (SDM Vol. 3A 6.8.3)
        c.brk = true;
    }
}

void mov_from_sreg(Cpu& c, const Insn& i) {
    uint16_t sel = c.seg[i.extra].selector;
    if (i.k0 == kOpReg) {
        // Register destination: 32/64-bit forms zero-extend (SDM Vol. 2B MOV notes).
        if (i.osize == 2) c.set_reg<uint16_t>(i.r0, sel);
        else c.set_reg<uint32_t>(i.r0, sel);
    } else {
        write_mem<uint16_t>(c, i, sel);
    }
}

/// Far transfer to `sel:offset` (code segment descriptors only, same privilege).
void far_transfer(Cpu& c, uint16_t sel, uint64_t offset, unsigned osize, bool call) {
    if (!(c.cr0 & hv::kCr0Pe) || (c.rflags & kVm)) {
        if (call) {
            c.push(c.seg[kCs].selector, osize);
            c.push(c.next_rip, osize);
        }
        c.load_real_segment(kCs, sel);
        c.next_rip = offset & (osize == 2 ? 0xffff : 0xffffffffULL);
        c.brk = true;
        return;
    }
    if ((sel & 0xfffc) == 0) c.raise(kGp, 0);
    uint64_t d = c.read_descriptor(sel, kGp);
    hv::Segment cs = c.descriptor_to_segment(sel, d);
    if (!cs.s) {
        far_to_task(c, sel, d, call);   // a TSS or task gate (call gates: #GP)
        return;
    }
    if (!(cs.type & 8)) c.raise(kGp, sel & 0xfffc);
    const uint8_t rpl = sel & 3;
    if (cs.type & 4) {
        if (cs.dpl > c.cpl) c.raise(kGp, sel & 0xfffc);
    } else if (rpl > c.cpl || cs.dpl != c.cpl) {
        c.raise(kGp, sel & 0xfffc);
    }
    if (!cs.present) c.raise(kNp, sel & 0xfffc);
    if (call) {
        // Check the stack for both pushes before anything changes.
        uint64_t low = (c.gpr[hv::RSP] - 2 * osize) & c.stack_mask();
        (void)c.linear(kSs, low, 2 * osize, Access::Write);
        c.push(c.seg[kCs].selector, osize);
        c.push(c.next_rip, osize);
    }
    load_code_segment(c, sel, d, c.cpl);
    c.next_rip = c.mode64 ? offset : osize == 2 ? (offset & 0xffff) : (offset & 0xffffffffULL);
    c.brk = true;
}

void far_direct(Cpu& c, const Insn& i, bool call) { far_transfer(c, i.imm2, i.imm, i.osize, call); }
void jmp_far_ptr(Cpu& c, const Insn& i) { far_direct(c, i, false); }
void call_far_ptr(Cpu& c, const Insn& i) { far_direct(c, i, true); }

void far_indirect(Cpu& c, const Insn& i, bool call) {
    uint64_t ea = effective_address(c, i);
    uint64_t off = i.osize == 2 ? c.read<uint16_t>(i.seg, ea) : i.osize == 4 ? c.read<uint32_t>(i.seg, ea)
                                                                             : c.read<uint64_t>(i.seg, ea);
    uint16_t sel = c.read<uint16_t>(i.seg, (ea + i.osize) & addr_mask(i.asize));
    far_transfer(c, sel, off, i.osize, call);
}
void jmp_far_mem(Cpu& c, const Insn& i) { far_indirect(c, i, false); }
void call_far_mem(Cpu& c, const Insn& i) { far_indirect(c, i, true); }

void ret_far(Cpu& c, const Insn& i) {
    const unsigned n = i.osize;
    uint64_t off = c.peek(n, 0);
    uint16_t sel = static_cast<uint16_t>(c.peek(n, n));
    const uint64_t mask = c.stack_mask();
    const uint64_t extra = i.k0 == kOpImm ? (i.imm & 0xffff) : 0;
    if (!(c.cr0 & hv::kCr0Pe) || (c.rflags & kVm)) {
        c.load_real_segment(kCs, sel);
        c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | ((c.gpr[hv::RSP] + 2 * n + extra) & mask);
        c.next_rip = off & (n == 2 ? 0xffff : 0xffffffffULL);
        c.brk = true;
        return;
    }
    if ((sel & 0xfffc) == 0) c.raise(kGp, 0);
    const uint8_t rpl = sel & 3;
    if (rpl < c.cpl) c.raise(kGp, sel & 0xfffc);
    uint64_t d = c.read_descriptor(sel, kGp);
    hv::Segment cs = c.descriptor_to_segment(sel, d);
    if (!cs.s || !(cs.type & 8)) c.raise(kGp, sel & 0xfffc);
    if ((cs.type & 4) ? cs.dpl > rpl : cs.dpl != rpl) c.raise(kGp, sel & 0xfffc);
    if (!cs.present) c.raise(kNp, sel & 0xfffc);
    if (rpl > c.cpl) {
        // Return to an outer level: also pops SS:RSP (SDM Vol. 2B RET).
        uint64_t sp = c.peek(n, 2 * n + extra);
        uint16_t ss_sel = static_cast<uint16_t>(c.peek(n, 3 * n + extra));
        if ((ss_sel & 0xfffc) == 0 || (ss_sel & 3) != rpl) c.raise(kGp, ss_sel & 0xfffc);
        uint64_t sd = c.read_descriptor(ss_sel, kGp);
        hv::Segment ss = c.descriptor_to_segment(ss_sel, sd);
        if (!ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl) c.raise(kGp, ss_sel & 0xfffc);
        if (!ss.present) c.raise(kSsf, ss_sel & 0xfffc);
        load_code_segment(c, sel, d, rpl);
        c.set_accessed(ss_sel, sd);
        c.seg[kSs] = ss;
        c.gpr[hv::RSP] = n == 8 ? sp + extra : ss.db ? ((sp + extra) & 0xffffffffULL) : ((sp + extra) & 0xffff);
    } else {
        load_code_segment(c, sel, d, rpl);
        c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | ((c.gpr[hv::RSP] + 2 * n + extra) & mask);
    }
    c.next_rip = c.mode64 ? off : n == 2 ? (off & 0xffff) : (off & 0xffffffffULL);
    c.brk = true;
}

/// LAR/LSL/VERR/VERW: the descriptor if visible at CPL/RPL, else nullopt (ZF=0).
std::optional<uint64_t> visible_descriptor(Cpu& c, uint16_t sel, bool lsl) {
    if ((sel & 0xfffc) == 0) return std::nullopt;
    bool ldt = sel & 4;
    uint64_t limit = ldt ? c.ldtr.limit : c.gdt.limit;
    if ((sel & 0xfff8u) + 7u > limit) return std::nullopt;
    uint64_t d = c.read_descriptor(sel, kGp);
    bool s = (d >> 44) & 1;
    uint8_t type = static_cast<uint8_t>((d >> 40) & 0xf);
    uint8_t dpl = static_cast<uint8_t>((d >> 45) & 3);
    if (!s) {
        // System types valid for LAR (SDM table): LDT, TSS (and gates for LAR in legacy mode).
        bool ok = type == 2 || type == 9 || type == 0xb || (!c.long_mode && (type == 1 || type == 3 ||
                  (!lsl && (type == 4 || type == 5 || type == 0xc))));
        if (!ok) return std::nullopt;
    }
    bool conforming = s && (type & 0xc) == 0xc;
    if (!conforming && (dpl < c.cpl || dpl < (sel & 3))) return std::nullopt;
    return d;
}

void lar(Cpu& c, const Insn& i) {
    uint16_t sel = i.k1 == kOpReg ? c.reg<uint16_t>(i.r1) : read_mem<uint16_t>(c, i);
    auto d = visible_descriptor(c, sel, false);
    if (!d) { c.rflags &= ~kZf; return; }
    uint64_t v = (*d >> 32) & 0x00f0ff00ULL;
    if (i.osize == 2) c.set_reg<uint16_t>(i.r0, static_cast<uint16_t>(v));
    else c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(v));
    c.rflags |= kZf;
}

void lsl(Cpu& c, const Insn& i) {
    uint16_t sel = i.k1 == kOpReg ? c.reg<uint16_t>(i.r1) : read_mem<uint16_t>(c, i);
    auto d = visible_descriptor(c, sel, true);
    if (!d) { c.rflags &= ~kZf; return; }
    hv::Segment s = c.descriptor_to_segment(sel, *d);
    if (i.osize == 2) c.set_reg<uint16_t>(i.r0, static_cast<uint16_t>(s.limit));
    else c.set_reg<uint32_t>(i.r0, s.limit);
    c.rflags |= kZf;
}

template <bool Write>
void verify(Cpu& c, const Insn& i) {
    uint16_t sel = i.k0 == kOpReg ? c.reg<uint16_t>(i.r0) : read_mem<uint16_t>(c, i);
    auto d = visible_descriptor(c, sel, true);
    bool ok = false;
    if (d && ((*d >> 44) & 1)) {
        uint8_t type = static_cast<uint8_t>((*d >> 40) & 0xf);
        ok = Write ? (!(type & 8) && (type & 2)) : (!(type & 8) || (type & 2));
    }
    c.rflags = ok ? (c.rflags | kZf) : (c.rflags & ~kZf);
}

void arpl(Cpu& c, const Insn& i) {
    uint16_t d = i.k0 == kOpReg ? c.reg<uint16_t>(i.r0) : read_mem<uint16_t>(c, i);
    uint16_t s = c.reg<uint16_t>(i.r1);
    if ((d & 3) < (s & 3)) {
        d = static_cast<uint16_t>((d & ~3u) | (s & 3));
        if (i.k0 == kOpReg) c.set_reg<uint16_t>(i.r0, d);
        else write_mem<uint16_t>(c, i, d);
        c.rflags |= kZf;
    } else {
        c.rflags &= ~kZf;
    }
}

/// LAR LSL VERR VERW ARPL are #UD in real and virtual-8086 mode.
template <Handler H>
void protected_only(Cpu& c, const Insn& i) {
    if (!(c.cr0 & hv::kCr0Pe) || (c.rflags & kVm)) c.raise(kUd);
    H(c, i);
}

}  // namespace

Handler select_mov_sreg(const DecodeView& d, Insn& i) {
    if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && sreg_index(d.ops[0].reg.value) >= 0) {
        int s = sreg_index(d.ops[0].reg.value);
        if (s == kCs) return nullptr;   // MOV CS is #UD
        i.extra = static_cast<uint8_t>(s);
        return mov_to_sreg;
    }
    i.extra = static_cast<uint8_t>(sreg_index(d.ops[1].reg.value));
    return mov_from_sreg;
}

Handler select_far_jmp(const DecodeView&, Insn& i) { return i.k0 == kOpImm ? jmp_far_ptr : jmp_far_mem; }
Handler select_far_call(const DecodeView&, Insn& i) { return i.k0 == kOpImm ? call_far_ptr : call_far_mem; }
Handler select_far_ret(const DecodeView&, Insn&) { return ret_far; }

void register_segment(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_LAR, [](const DecodeView&, Insn&) -> Handler { return protected_only<lar>; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_LSL, [](const DecodeView&, Insn&) -> Handler { return protected_only<lsl>; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_VERR, [](const DecodeView&, Insn&) -> Handler { return protected_only<verify<false>>; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_VERW, [](const DecodeView&, Insn&) -> Handler { return protected_only<verify<true>>; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_ARPL, [](const DecodeView&, Insn&) -> Handler { return protected_only<arpl>; });
}

}  // namespace popek::emu
