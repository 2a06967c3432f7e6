/// Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR, SHLD SHRD (SDM Vol. 2B).
/// A masked count of zero changes neither the operand nor the flags.
#include "emu/interp/families.h"
#include "emu/interp/host_ops.h"

namespace popek::emu {
namespace {

/// A masked count of zero leaves flags and value alone, but a 32-bit register destination is
/// still written, so its upper half is cleared (what the host CPU does; SDM Vol. 1 3.4.1.1).
template <class T>
void zero_count_register(Cpu& c, const Insn& i) {
    if constexpr (sizeof(T) == 4) c.set_reg<uint32_t>(i.r0, c.reg<uint32_t>(i.r0));
}

template <int Op, class T>
void shift(Cpu& c, const Insn& i) {
    uint8_t count = static_cast<uint8_t>((i.k1 == kOpImm ? i.imm : c.gpr[hv::RCX]) & (sizeof(T) == 8 ? 0x3f : 0x1f));
    constexpr uint64_t mask = (Op == host::kRol || Op == host::kRor || Op == host::kRcl || Op == host::kRcr)
                                  ? (kCf | kOf) : kArithFlags;
    uint64_t f;
    if (i.k0 == kOpReg) {
        if (count == 0) return zero_count_register<T>(c, i);
        T d = c.reg<T>(i.r0);
        f = host::shift<T>(Op, d, count, c.rflags & kCf);
        c.set_reg<T>(i.r0, d);
    } else {
        uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
        T d = c.read_la<T>(la);
        if (count == 0) return;
        f = host::shift<T>(Op, d, count, c.rflags & kCf);
        c.write_la<T>(la, d);
    }
    merge_flags(c, f, mask);
}

template <int Op>
Handler select_shift(const DecodeView&, Insn& i) {
    if (i.k1 == kOpNone) { i.k1 = kOpImm; i.imm = 1; }
    switch (i.osize) {
        case 1: return shift<Op, uint8_t>;
        case 2: return shift<Op, uint16_t>;
        case 4: return shift<Op, uint32_t>;
        default: return shift<Op, uint64_t>;
    }
}

template <bool Left, class T>
void double_shift(Cpu& c, const Insn& i) {
    uint8_t count = static_cast<uint8_t>((i.k2 == kOpImm ? i.imm : c.gpr[hv::RCX]) & (sizeof(T) == 8 ? 0x3f : 0x1f));
    T s = c.reg<T>(i.r1);
    uint64_t f;
    if (i.k0 == kOpReg) {
        if (count == 0) return zero_count_register<T>(c, i);
        T d = c.reg<T>(i.r0);
        f = host::double_shift<T>(Left, d, s, count);
        c.set_reg<T>(i.r0, d);
    } else {
        uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
        T d = c.read_la<T>(la);
        if (count == 0) return;
        f = host::double_shift<T>(Left, d, s, count);
        c.write_la<T>(la, d);
    }
    merge_flags(c, f, kArithFlags);
}

template <bool Left>
Handler select_double(const DecodeView&, Insn& i) {
    switch (i.osize) {
        case 2: return double_shift<Left, uint16_t>;
        case 4: return double_shift<Left, uint32_t>;
        case 8: return double_shift<Left, uint64_t>;
        default: return nullptr;
    }
}

}  // namespace

void register_shift(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_ROL, select_shift<host::kRol>);
    t.add(ZYDIS_MNEMONIC_ROR, select_shift<host::kRor>);
    t.add(ZYDIS_MNEMONIC_RCL, select_shift<host::kRcl>);
    t.add(ZYDIS_MNEMONIC_RCR, select_shift<host::kRcr>);
    t.add(ZYDIS_MNEMONIC_SHL, select_shift<host::kShl>);
    t.add(ZYDIS_MNEMONIC_SHR, select_shift<host::kShr>);
    t.add(ZYDIS_MNEMONIC_SAR, select_shift<host::kSar>);
    t.add(ZYDIS_MNEMONIC_SHLD, select_double<true>);
    t.add(ZYDIS_MNEMONIC_SHRD, select_double<false>);
}

}  // namespace popek::emu
