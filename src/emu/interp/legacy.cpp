/// Legacy instructions of 16/32-bit code, invalid in 64-bit mode where the SDM says so (the
/// decoder does not produce them there: #UD): the BCD adjustments DAA DAS AAA AAS AAM AAD, SALC,
/// BOUND, and the far-pointer loads LDS LES LSS LFS LGS (the last three in every mode).
///
/// Flags the SDM leaves undefined are produced as QEMU's TCG produces them (target/i386
/// int_helper.c): DAA/DAS clear OF; AAA/AAS leave OF SF ZF PF as they were; AAM/AAD clear OF AF CF.
#include "emu/interp/families.h"

namespace popek::emu {

void load_segment_register(Cpu& c, int s, uint16_t selector);   // segment_ops.cpp

namespace {

uint64_t szp(uint8_t v) {
    uint64_t f = 0;
    if (v == 0) f |= kZf;
    if (v & 0x80) f |= kSf;
    if (!__builtin_parity(v)) f |= kPf;
    return f;
}

uint8_t al(const Cpu& c) { return c.reg<uint8_t>(hv::RAX); }
void set_arith_flags(Cpu& c, uint64_t f, uint64_t mask = kArithFlags) { c.rflags = (c.rflags & ~mask) | (f & mask); }

/// DAA (SDM Vol. 2A DAA): decimal adjust AL after addition.
void daa(Cpu& c, const Insn&) {
    const uint8_t old_al = al(c);
    const bool old_cf = c.rflags & kCf;
    uint8_t v = old_al;
    uint64_t f = 0;
    if ((v & 0xf) > 9 || (c.rflags & kAf)) {
        v = static_cast<uint8_t>(v + 6);
        f |= kAf;
    }
    if (old_al > 0x99 || old_cf) {
        v = static_cast<uint8_t>(v + 0x60);
        f |= kCf;
    }
    c.set_reg<uint8_t>(hv::RAX, v);
    set_arith_flags(c, f | szp(v));
}

/// DAS (SDM Vol. 2A DAS): decimal adjust AL after subtraction.
void das(Cpu& c, const Insn&) {
    const uint8_t old_al = al(c);
    const bool old_cf = c.rflags & kCf;
    uint8_t v = old_al;
    uint64_t f = 0;
    if ((v & 0xf) > 9 || (c.rflags & kAf)) {
        if (old_cf || v < 6) f |= kCf;   // CF = old CF or the borrow of AL - 6
        v = static_cast<uint8_t>(v - 6);
        f |= kAf;
    }
    if (old_al > 0x99 || old_cf) {
        v = static_cast<uint8_t>(v - 0x60);
        f |= kCf;
    }
    c.set_reg<uint8_t>(hv::RAX, v);
    set_arith_flags(c, f | szp(v));
}

/// AAA / AAS (SDM Vol. 2A): ASCII adjust after addition/subtraction; only AF and CF are defined.
template <bool Sub>
void aaa_aas(Cpu& c, const Insn&) {
    uint16_t ax = c.reg<uint16_t>(hv::RAX);
    const bool adjust = (ax & 0xf) > 9 || (c.rflags & kAf);
    if (adjust) {
        // AX + 106H / AX - 6 then AH - 1: the carry or borrow of AL's adjustment reaches AH.
        ax = Sub ? static_cast<uint16_t>(ax - 6 - 0x100) : static_cast<uint16_t>(ax + 0x106);
    }
    c.set_reg<uint16_t>(hv::RAX, static_cast<uint16_t>(ax & 0xff0f));
    set_arith_flags(c, adjust ? (kAf | kCf) : 0, kAf | kCf);
}

/// AAM imm8 (SDM Vol. 2A AAM): AH = AL / imm8, AL = AL mod imm8; imm8 = 0 is #DE.
void aam(Cpu& c, const Insn& i) {
    const uint8_t base = static_cast<uint8_t>(i.imm);
    if (base == 0) c.raise(kDe);
    const uint8_t v = al(c);
    const uint8_t lo = static_cast<uint8_t>(v % base);
    c.set_reg<uint16_t>(hv::RAX, static_cast<uint16_t>(((v / base) << 8) | lo));
    set_arith_flags(c, szp(lo));
}

/// AAD imm8 (SDM Vol. 2A AAD): AL = (AL + AH * imm8) & FFH, AH = 0.
void aad(Cpu& c, const Insn& i) {
    const uint16_t ax = c.reg<uint16_t>(hv::RAX);
    const uint8_t v = static_cast<uint8_t>((ax & 0xff) + (ax >> 8) * (i.imm & 0xff));
    c.set_reg<uint16_t>(hv::RAX, v);
    set_arith_flags(c, szp(v));
}

/// SALC (D6, undocumented in the SDM's opcode map as reserved; every Intel and AMD CPU executes
/// it outside 64-bit mode): AL = CF ? FFH : 0, flags unchanged.
void salc(Cpu& c, const Insn&) { c.set_reg<uint8_t>(hv::RAX, (c.rflags & kCf) ? 0xff : 0); }

/// BOUND r, m (SDM Vol. 2A BOUND): #BR (a fault) when the signed index is outside [lower, upper].
template <class T>
void bound(Cpu& c, const Insn& i) {
    using S = std::make_signed_t<T>;
    const uint64_t ea = effective_address(c, i);
    const auto lower = static_cast<S>(c.read<T>(i.seg, ea));
    const auto upper = static_cast<S>(c.read<T>(i.seg, (ea + sizeof(T)) & addr_mask(i.asize)));
    const auto index = static_cast<S>(c.reg<T>(i.r0));
    if (index < lower || index > upper) c.raise(kBr);
}

/// LDS LES LSS LFS LGS r, m16:16/32/64 (SDM Vol. 2A LDS/LES/LFS/LGS/LSS): offset then selector;
/// the segment register is loaded (with every check of MOV Sreg) before the register changes.
template <class T>
void load_far_pointer(Cpu& c, const Insn& i) {
    const uint64_t ea = effective_address(c, i);
    const T offset = c.read<T>(i.seg, ea);
    const auto sel = c.read<uint16_t>(i.seg, (ea + sizeof(T)) & addr_mask(i.asize));
    load_segment_register(c, i.extra, sel);
    c.set_reg<T>(i.r0, offset);
    c.brk = true;   // a new segment (SS: a new stack width) for the following instructions
}

template <int Seg>
Handler select_far_pointer(const DecodeView&, Insn& i) {
    if (i.k0 != kOpReg || i.k1 != kOpMem) return nullptr;   // a register source is #UD
    i.extra = Seg;
    switch (i.osize) {
        case 2: return load_far_pointer<uint16_t>;
        case 4: return load_far_pointer<uint32_t>;
        case 8: return load_far_pointer<uint64_t>;
        default: return nullptr;
    }
}

Handler select_bound(const DecodeView&, Insn& i) {
    if (i.k0 != kOpReg || i.k1 != kOpMem) return nullptr;
    return i.osize == 2 ? bound<uint16_t> : i.osize == 4 ? bound<uint32_t> : nullptr;
}

template <Handler H>
Handler fixed(const DecodeView& d, Insn&) {
    return d.code_bits == 64 ? nullptr : H;   // invalid in 64-bit mode (SDM opcode map "i64")
}

}  // namespace

void register_legacy(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_DAA, fixed<daa>);
    t.add(ZYDIS_MNEMONIC_DAS, fixed<das>);
    t.add(ZYDIS_MNEMONIC_AAA, fixed<aaa_aas<false>>);
    t.add(ZYDIS_MNEMONIC_AAS, fixed<aaa_aas<true>>);
    t.add(ZYDIS_MNEMONIC_AAM, fixed<aam>);
    t.add(ZYDIS_MNEMONIC_AAD, fixed<aad>);
    t.add(ZYDIS_MNEMONIC_SALC, fixed<salc>);
    t.add(ZYDIS_MNEMONIC_BOUND, [](const DecodeView& d, Insn& i) -> Handler {
        return d.code_bits == 64 ? nullptr : select_bound(d, i);
    });
    t.add(ZYDIS_MNEMONIC_LDS, [](const DecodeView& d, Insn& i) -> Handler {
        return d.code_bits == 64 ? nullptr : select_far_pointer<kDs>(d, i);
    });
    t.add(ZYDIS_MNEMONIC_LES, [](const DecodeView& d, Insn& i) -> Handler {
        return d.code_bits == 64 ? nullptr : select_far_pointer<kEs>(d, i);
    });
    t.add(ZYDIS_MNEMONIC_LSS, select_far_pointer<kSs>);
    t.add(ZYDIS_MNEMONIC_LFS, select_far_pointer<kFs>);
    t.add(ZYDIS_MNEMONIC_LGS, select_far_pointer<kGs>);
}

}  // namespace popek::emu
