/// Stack instructions: PUSH/POP (GPR, memory, immediate, segment registers), PUSHF/POPF with the
/// CPL/IOPL rules (SDM Vol. 2B POPF), PUSHA/POPA, ENTER/LEAVE.
#include "emu/interp/families.h"

namespace popek::emu {

void load_segment_register(Cpu& c, int s, uint16_t selector);   // segment_ops.cpp

namespace {

void push(Cpu& c, const Insn& i) {
    uint64_t v;
    if (i.k0 == kOpReg) v = c.gpr[i.r0];
    else if (i.k0 == kOpImm) v = i.imm;
    else v = i.osize == 2 ? read_mem<uint16_t>(c, i) : i.osize == 4 ? read_mem<uint32_t>(c, i) : read_mem<uint64_t>(c, i);
    c.push(v, i.osize);
}

void push_sreg(Cpu& c, const Insn& i) { c.push(c.seg[i.extra].selector, i.osize); }

void pop(Cpu& c, const Insn& i) {
    uint64_t v = c.peek(i.osize);
    uint64_t old_sp = c.gpr[hv::RSP];
    const uint64_t mask = c.stack_mask();
    uint64_t new_sp = (old_sp & ~mask) | ((old_sp + i.osize) & mask);
    if (i.k0 == kOpReg) {
        c.gpr[hv::RSP] = new_sp;
        if (i.osize == 2) c.set_reg<uint16_t>(i.r0, static_cast<uint16_t>(v));
        else if (i.osize == 4) c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(v));
        else c.gpr[i.r0] = v;
        return;
    }
    // POP m: the address is computed with the incremented stack pointer (SDM Vol. 2B POP).
    c.gpr[hv::RSP] = new_sp;
    uint64_t ea = effective_address(c, i);
    c.gpr[hv::RSP] = old_sp;
    if (i.osize == 2) c.write<uint16_t>(i.seg, ea, static_cast<uint16_t>(v));
    else if (i.osize == 4) c.write<uint32_t>(i.seg, ea, static_cast<uint32_t>(v));
    else c.write<uint64_t>(i.seg, ea, v);
    c.gpr[hv::RSP] = new_sp;
}

void pop_sreg(Cpu& c, const Insn& i) {
    uint16_t sel = static_cast<uint16_t>(c.peek(i.osize));
    load_segment_register(c, i.extra, sel);
    c.pop(i.osize);
    if (i.extra == kSs) {   // SDM Vol. 3A 6.8.3
        c.begin_interrupt_shadow();
        c.debug().movss_shadow = true;
    }
    c.brk = true;
}

void pushf(Cpu& c, const Insn& i) {
    if ((c.rflags & kVm) && ((c.rflags & kIopl) >> 12) < 3) c.raise(kGp, 0);
    c.push(c.rflags & ~(kVm | kRf), i.osize);
}

}  // namespace

/// Writes a popped/IRET flags image under the CPL/IOPL rules (SDM Vol. 2B POPF, IRET).
void write_flags(Cpu& c, uint64_t v, unsigned osize) {
    uint64_t mask = kCf | kPf | kAf | kZf | kSf | kTf | kDf | kOf | kNt;
    if (osize >= 4) mask |= kAc | kId;
    unsigned iopl = static_cast<unsigned>((c.rflags & kIopl) >> 12);
    if (c.cpl == 0) mask |= kIopl;
    if (c.cpl <= iopl) mask |= kIf;
    if (osize == 2) mask &= 0xffff;
    uint64_t old_if = c.rflags & kIf;
    c.rflags = ((c.rflags & ~mask) | (v & mask) | 2) & ~kRf;
    c.update_tlb_class();   // AC may have changed: SMAP's override (SDM Vol. 3A 4.6.1)
    if (!old_if && (c.rflags & kIf)) c.budget = 0;   // interrupts may be deliverable now
}

namespace {

void popf(Cpu& c, const Insn& i) {
    if ((c.rflags & kVm) && ((c.rflags & kIopl) >> 12) < 3) c.raise(kGp, 0);
    uint64_t v = c.pop(i.osize);
    write_flags(c, v, i.osize);
    c.brk = true;
}

void pusha(Cpu& c, const Insn& i) {
    uint64_t sp = c.gpr[hv::RSP];
    const unsigned n = i.osize;
    // Check the whole area first so a fault leaves RSP unchanged.
    uint64_t low = (sp - 8 * n) & c.stack_mask();
    (void)c.linear(kSs, low, 8 * n, Access::Write);
    for (int r = 0; r < 8; ++r) c.push(r == hv::RSP ? sp : c.gpr[r], n);
}

void popa(Cpu& c, const Insn& i) {
    const unsigned n = i.osize;
    uint64_t vals[8];
    for (int r = 7; r >= 0; --r) vals[r] = c.peek(n, static_cast<uint64_t>(7 - r) * n);
    for (int r = 0; r < 8; ++r) {
        if (r == hv::RSP) continue;
        if (n == 2) c.set_reg<uint16_t>(r, static_cast<uint16_t>(vals[r]));
        else c.set_reg<uint32_t>(r, static_cast<uint32_t>(vals[r]));
    }
    const uint64_t mask = c.stack_mask();
    c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | ((c.gpr[hv::RSP] + 8 * n) & mask);
}

/// ENTER (SDM Vol. 2A ENTER). The stack pointer is kept local until every access is done, so a
/// fault or a device read on the way (mmu/io_log.cpp re-executes it) restarts it unchanged.
void enter(Cpu& c, const Insn& i) {
    const unsigned n = i.osize;
    const uint64_t size = i.imm & 0xffff;
    const unsigned level = i.imm2 & 31;
    const uint64_t mask = c.stack_mask();
    uint64_t sp = c.gpr[hv::RSP] & mask;
    auto push_local = [&](uint64_t v) {
        sp = (sp - n) & mask;
        if (n == 2) c.write<uint16_t>(kSs, sp, static_cast<uint16_t>(v));
        else if (n == 4) c.write<uint32_t>(kSs, sp, static_cast<uint32_t>(v));
        else c.write<uint64_t>(kSs, sp, v);
    };
    uint64_t rbp = c.gpr[hv::RBP];
    push_local(rbp);
    const uint64_t frame = sp;
    for (unsigned l = 1; l < level; ++l) {
        rbp = (rbp & ~mask) | ((rbp - n) & mask);
        uint64_t v = n == 2 ? c.read<uint16_t>(kSs, rbp & mask) : n == 4 ? c.read<uint32_t>(kSs, rbp & mask)
                                                                        : c.read<uint64_t>(kSs, rbp & mask);
        push_local(v);
    }
    if (level > 0) push_local(frame);
    uint64_t new_sp = (sp - size) & mask;
    (void)c.linear(kSs, new_sp, 1, Access::Write);
    if (n == 2) c.set_reg<uint16_t>(hv::RBP, static_cast<uint16_t>(frame));
    else if (mask == 0xffffffffULL || n == 4) c.set_reg<uint32_t>(hv::RBP, static_cast<uint32_t>(frame));
    else c.gpr[hv::RBP] = frame;
    c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | new_sp;
}

void leave(Cpu& c, const Insn& i) {
    const uint64_t mask = c.stack_mask();
    uint64_t sp = c.gpr[hv::RBP] & mask;
    uint64_t v = i.osize == 2 ? c.read<uint16_t>(kSs, sp) : i.osize == 4 ? c.read<uint32_t>(kSs, sp)
                                                                          : c.read<uint64_t>(kSs, sp);
    c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | ((sp + i.osize) & mask);
    if (i.osize == 2) c.set_reg<uint16_t>(hv::RBP, static_cast<uint16_t>(v));
    else if (i.osize == 4) c.set_reg<uint32_t>(hv::RBP, static_cast<uint32_t>(v));
    else c.gpr[hv::RBP] = v;
}

Handler select_push(const DecodeView& d, Insn& i) {
    if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (int s = sreg_index(d.ops[0].reg.value); s >= 0) {
            i.extra = static_cast<uint8_t>(s);
            return push_sreg;
        }
    }
    return push;
}

Handler select_pop(const DecodeView& d, Insn& i) {
    if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (int s = sreg_index(d.ops[0].reg.value); s >= 0) {
            if (s == kCs) return nullptr;
            i.extra = static_cast<uint8_t>(s);
            return pop_sreg;
        }
    }
    return pop;
}

}  // namespace

void register_stack(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_PUSH, select_push);
    t.add(ZYDIS_MNEMONIC_POP, select_pop);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_PUSHF, ZYDIS_MNEMONIC_PUSHFD, ZYDIS_MNEMONIC_PUSHFQ})
        t.add(m, [](const DecodeView&, Insn&) -> Handler { return pushf; }, kClsSensitive);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_POPF, ZYDIS_MNEMONIC_POPFD, ZYDIS_MNEMONIC_POPFQ})
        t.add(m, [](const DecodeView&, Insn&) -> Handler { return popf; }, kClsSensitive);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_PUSHA, ZYDIS_MNEMONIC_PUSHAD})
        t.add(m, [](const DecodeView&, Insn&) -> Handler { return pusha; });
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_POPA, ZYDIS_MNEMONIC_POPAD})
        t.add(m, [](const DecodeView&, Insn&) -> Handler { return popa; });
    t.add(ZYDIS_MNEMONIC_ENTER, [](const DecodeView&, Insn&) -> Handler { return enter; });
    t.add(ZYDIS_MNEMONIC_LEAVE, [](const DecodeView&, Insn&) -> Handler { return leave; });
}

}  // namespace popek::emu
