/// Near control transfers: JMP, Jcc, CALL, RET, LOOP/LOOPcc, JrCXZ, and the software interrupts
/// INT n / INT3 / INTO (SDM Vol. 2A/2B). Far forms live in segment_ops.cpp, IRET in events.cpp.
#include <array>
#include <utility>

#include "emu/interp/families.h"

namespace popek::emu {

Handler select_far_jmp(const DecodeView& d, Insn& i);    // segment_ops.cpp
Handler select_far_call(const DecodeView& d, Insn& i);   // segment_ops.cpp
Handler select_far_ret(const DecodeView& d, Insn& i);    // segment_ops.cpp
void iret(Cpu& c, const Insn& i);                        // events.cpp

namespace {

uint64_t read_target(Cpu& c, const Insn& i) {
    if (i.k0 == kOpReg) return c.gpr[i.r0];
    switch (i.osize) {
        case 2: return read_mem<uint16_t>(c, i);
        case 4: return read_mem<uint32_t>(c, i);
        default: return read_mem<uint64_t>(c, i);
    }
}

void jmp_rel(Cpu& c, const Insn& i) { branch_to(c, c.next_rip + i.imm, i.osize); }
void jmp_ind(Cpu& c, const Insn& i) { branch_to(c, read_target(c, i), i.osize); }

/// Jcc specialised on the condition and the operand size at decode time: the condition folds to
/// one or two flag tests and the target needs no truncation switch (the hottest handler). A
/// block goes on after a Jcc (BlockCache::continues_block): taken, it ends the block's run.
template <unsigned Cc, unsigned Osize>
void jcc(Cpu& c, const Insn& i) {
    if (condition(c.rflags, Cc)) {
        branch_to(c, c.next_rip + i.imm, Osize);
        c.brk = true;
    }
}

template <unsigned Osize, size_t... Cc>
constexpr std::array<Handler, 16> jcc_table(std::index_sequence<Cc...>) {
    return {jcc<Cc, Osize>...};
}

Handler select_jcc(const DecodeView& d, Insn& i) {
    static constexpr auto k16 = jcc_table<2>(std::make_index_sequence<16>());
    static constexpr auto k32 = jcc_table<4>(std::make_index_sequence<16>());
    static constexpr auto k64 = jcc_table<8>(std::make_index_sequence<16>());
    const unsigned cc = d.ins.opcode & 0xf;
    i.extra = static_cast<uint8_t>(cc);
    return i.osize == 8 ? k64[cc] : i.osize == 4 ? k32[cc] : k16[cc];
}

void call_rel(Cpu& c, const Insn& i) {
    check_branch_target(c, c.next_rip + i.imm, i.osize);   // before the push: a fault changes nothing
    c.push(c.next_rip, i.osize);
    branch_to(c, c.next_rip + i.imm, i.osize);
}

void call_ind(Cpu& c, const Insn& i) {
    uint64_t target = read_target(c, i);
    check_branch_target(c, target, i.osize);
    c.push(c.next_rip, i.osize);
    branch_to(c, target, i.osize);
}

void ret(Cpu& c, const Insn& i) {
    // Read once, check, then release the stack: a non-canonical target faults with RSP unchanged.
    const uint64_t target = c.peek(i.osize);
    check_branch_target(c, target, i.osize);
    const uint64_t mask = c.stack_mask();
    const uint64_t release = i.osize + (i.k0 == kOpImm ? (i.imm & 0xffff) : 0);
    c.gpr[hv::RSP] = (c.gpr[hv::RSP] & ~mask) | ((c.gpr[hv::RSP] + release) & mask);
    branch_to(c, target, i.osize);
}

/// LOOP/LOOPE/LOOPNE: the count register has the address size (SDM Vol. 2A LOOP).
void loop(Cpu& c, const Insn& i) {
    const uint64_t mask = addr_mask(i.asize);
    uint64_t count = (c.gpr[hv::RCX] - 1) & mask;
    c.gpr[hv::RCX] = i.asize == 4 ? count : ((c.gpr[hv::RCX] & ~mask) | count);
    bool take = count != 0;
    if (i.extra == 1) take = take && (c.rflags & kZf);
    if (i.extra == 2) take = take && !(c.rflags & kZf);
    if (take) branch_to(c, c.next_rip + i.imm, i.osize);
}

void jrcxz(Cpu& c, const Insn& i) {
    if ((c.gpr[hv::RCX] & addr_mask(i.asize)) == 0) branch_to(c, c.next_rip + i.imm, i.osize);
}

void int_n(Cpu& c, const Insn& i) {
    // INT n is IOPL-sensitive in virtual-8086 mode (SDM Vol. 3A 20.2.7; CR4.VME is not offered).
    if ((c.rflags & kVm) && ((c.rflags & kIopl) >> 12) < 3) c.raise(kGp, 0);
    c.raise_software(static_cast<uint8_t>(i.imm));
}
void int3(Cpu& c, const Insn&) { c.raise_software(kBp); }
void int1(Cpu& c, const Insn&) { c.raise_trap(kDb); }
void into(Cpu& c, const Insn&) {
    if (c.rflags & kOf) c.raise_software(kOfv);
}

Handler select_jmp(const DecodeView& d, Insn& i) {
    if (d.ins.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return select_far_jmp(d, i);
    return i.k0 == kOpImm ? jmp_rel : jmp_ind;
}

Handler select_call(const DecodeView& d, Insn& i) {
    if (d.ins.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return select_far_call(d, i);
    return i.k0 == kOpImm ? call_rel : call_ind;
}

}  // namespace

void jmp_rel_mid_block(Cpu& c, const Insn& i) {
    jmp_rel(c, i);
    c.brk = true;   // the instructions after it belong to the path of an earlier Jcc
}

void register_control(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_JMP, select_jmp);
    t.add(ZYDIS_MNEMONIC_CALL, select_call);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
                            ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
                            ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
                            ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE})
        t.add(m, select_jcc);
    t.add(ZYDIS_MNEMONIC_LOOP, [](const DecodeView&, Insn& i) -> Handler { i.extra = 0; return loop; });
    t.add(ZYDIS_MNEMONIC_LOOPE, [](const DecodeView&, Insn& i) -> Handler { i.extra = 1; return loop; });
    t.add(ZYDIS_MNEMONIC_LOOPNE, [](const DecodeView&, Insn& i) -> Handler { i.extra = 2; return loop; });
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_JCXZ, ZYDIS_MNEMONIC_JECXZ, ZYDIS_MNEMONIC_JRCXZ})
        t.add(m, [](const DecodeView&, Insn&) -> Handler { return jrcxz; });
    t.add(ZYDIS_MNEMONIC_INT, [](const DecodeView&, Insn&) -> Handler { return int_n; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_INT3, [](const DecodeView&, Insn&) -> Handler { return int3; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_INT1, [](const DecodeView&, Insn&) -> Handler { return int1; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_INTO, [](const DecodeView&, Insn&) -> Handler { return into; }, kClsSensitive);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_IRET, ZYDIS_MNEMONIC_IRETD, ZYDIS_MNEMONIC_IRETQ})
        t.add(m, [](const DecodeView&, Insn&) -> Handler { return iret; }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_RET, [](const DecodeView& d, Insn& i) -> Handler {
        if (d.ins.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return select_far_ret(d, i);
        return ret;
    });
}

}  // namespace popek::emu
