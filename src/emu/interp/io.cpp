/// IN / OUT (SDM Vol. 2A IN, Vol. 1 19.5 I/O protection). With CPL > IOPL the TSS I/O permission
/// bitmap is consulted (SDM Vol. 1 19.5.2).
#include "emu/interp/families.h"

namespace popek::emu {

void check_io_permission(Cpu& c, uint16_t port, unsigned size) {
    if (!(c.cr0 & hv::kCr0Pe)) return;
    unsigned iopl = static_cast<unsigned>((c.rflags & kIopl) >> 12);
    if (c.cpl <= iopl && !(c.rflags & kVm)) return;
    // TSS I/O bitmap: 16-bit offset at TSS+0x66; every bit of the accessed ports must be clear.
    if (c.tr.limit < 0x67 || c.tr.type < 9) c.raise(kGp, 0);
    uint16_t base;
    c.read_sys(c.tr.base + 0x66, &base, 2);
    uint64_t byte = uint64_t{base} + port / 8;
    if (byte + 1 > c.tr.limit) c.raise(kGp, 0);
    uint16_t bits;
    c.read_sys(c.tr.base + byte, &bits, 2);
    if ((bits >> (port & 7)) & ((1u << size) - 1)) c.raise(kGp, 0);
}

namespace {

uint16_t port_of(const Cpu& c, const Insn& i, bool out) {
    uint8_t k = out ? i.k0 : i.k1;
    return k == kOpImm ? static_cast<uint16_t>(i.imm & 0xff) : static_cast<uint16_t>(c.gpr[hv::RDX]);
}

void in(Cpu& c, const Insn& i) {
    uint16_t port = port_of(c, i, false);
    check_io_permission(c, port, i.osize);
    uint32_t v = c.port_in(port, i.osize);
    if (i.osize == 1) c.set_reg<uint8_t>(hv::RAX, static_cast<uint8_t>(v));
    else if (i.osize == 2) c.set_reg<uint16_t>(hv::RAX, static_cast<uint16_t>(v));
    else c.set_reg<uint32_t>(hv::RAX, v);
}

void out(Cpu& c, const Insn& i) {
    uint16_t port = port_of(c, i, true);
    check_io_permission(c, port, i.osize);
    c.port_out(port, i.osize, static_cast<uint32_t>(c.gpr[hv::RAX]));
}

}  // namespace

void register_io(HandlerTable& t) {
    // Zydis reports the operand width of IN/OUT as the width of the accumulator operand.
    t.add(ZYDIS_MNEMONIC_IN, [](const DecodeView& d, Insn& i) -> Handler {
        i.osize = static_cast<uint8_t>(d.ops[0].size / 8);
        return in;
    }, kClsSensitive);
    t.add(ZYDIS_MNEMONIC_OUT, [](const DecodeView& d, Insn& i) -> Handler {
        i.osize = static_cast<uint8_t>(d.ops[1].size / 8);
        return out;
    }, kClsSensitive);
}

}  // namespace popek::emu
