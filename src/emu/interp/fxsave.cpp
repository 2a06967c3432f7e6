/// FXSAVE/FXRSTOR (and their REX.W 64-bit forms), LDMXCSR/STMXCSR (SDM Vol. 1 10.5, Vol. 2A
/// FXSAVE/FXRSTOR, Vol. 2B LDMXCSR). The engine's register file already has the FXSAVE layout,
/// so saving is a checked copy; what differs is which bytes are written (SDM table 10-2):
/// XMM8-15 only in 64-bit mode, bytes 464-511 never (software uses them, e.g. Linux's
/// fpx_sw_bytes), FIP/FDP as 32-bit offset + selector unless REX.W.
#include "emu/interp/sse_common.h"
#include "emu/interp/x87_common.h"

namespace popek::emu {

uint32_t sse::mxcsr_mask() {
    static const uint32_t mask = [] {
        alignas(16) uint8_t img[512]{};
        asm volatile("fxsave %0" : "=m"(img));
        const uint32_t m = x87::get32(img + 28);
        return m ? m : 0xffbfu;
    }();
    return mask;
}

namespace {

constexpr unsigned kXmmOffset = 160;

/// Bytes of the image FXSAVE writes and FXRSTOR reads in the current mode.
unsigned image_size(const Cpu& c) { return kXmmOffset + (c.mode64 ? 16 : 8) * 16; }

/// #NM (CR0.TS or EM), then #GP(0) for an unaligned operand (SDM Vol. 2A FXSAVE exceptions).
uint64_t fx_operand(Cpu& c, const Insn& i, Access acc) {
    if (c.cr0 & (hv::kCr0Em | hv::kCr0Ts)) c.raise(kNm);
    return sse::mem_la(c, i, image_size(c), acc, true);
}

void fxsave(Cpu& c, const Insn& i) {
    const uint64_t la = fx_operand(c, i, Access::Write);
    alignas(16) uint8_t img[512];
    std::memcpy(img, &c.fpu, sizeof(img));
    const FxsaveArea& f = c.fpu;
    if (i.osize != 8) {
        // 32-bit format: FIP[31:0], FCS (0: CPUID.7:EBX[13] deprecates it), FDP[31:0], FDS.
        x87::put32(img + 8, static_cast<uint32_t>(f.fip));
        x87::put32(img + 12, 0);
        x87::put32(img + 16, static_cast<uint32_t>(f.fdp));
        x87::put32(img + 20, 0);
    }
    x87::put32(img + 28, sse::mxcsr_mask());
    img[5] = 0;   // reserved byte after the abridged tag
    for (unsigned k = 0; k < 8; ++k) std::memset(img + 32 + 16 * k + 10, 0, 6);
    c.write_bytes_la(la, img, image_size(c), false);
}

void fxrstor(Cpu& c, const Insn& i) {
    const uint64_t la = fx_operand(c, i, Access::Read);
    alignas(16) uint8_t img[512]{};
    c.read_bytes_la(la, img, image_size(c), Access::Read, false);
    const uint32_t mxcsr = x87::get32(img + 24);
    if (mxcsr & ~sse::mxcsr_mask()) c.raise(kGp, 0);   // reserved MXCSR bits (SDM Vol. 1 11.6.6)
    FxsaveArea& f = c.fpu;
    f.fcw = x87::get16(img + 0);
    f.fsw = x87::get16(img + 2);
    x87::update_pending(f);
    f.ftw = img[4];
    f.fop = static_cast<uint16_t>(x87::get16(img + 6) & 0x7ff);
    if (i.osize == 8) {
        std::memcpy(&f.fip, img + 8, 8);
        std::memcpy(&f.fdp, img + 16, 8);
    } else {
        f.fip = x87::get32(img + 8);
        f.fdp = x87::get32(img + 16);
    }
    f.mxcsr = mxcsr;
    for (unsigned k = 0; k < 8; ++k) {
        std::memcpy(f.st[k], img + 32 + 16 * k, 10);
        std::memset(f.st[k] + 10, 0, 6);
    }
    std::memcpy(f.xmm, img + kXmmOffset, image_size(c) - kXmmOffset);
}

void ldmxcsr(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const uint32_t v = c.read<uint32_t>(i.seg, effective_address(c, i));
    if (v & ~sse::mxcsr_mask()) c.raise(kGp, 0);
    c.fpu.mxcsr = v;
}

void stmxcsr(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    c.write<uint32_t>(i.seg, effective_address(c, i), c.fpu.mxcsr);
}

Handler mem_only(const DecodeView& d, Handler h) {
    return d.ins.operand_count_visible >= 1 && d.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? h : nullptr;
}

}  // namespace

void register_fxsave(HandlerTable& t) {
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_FXSAVE, ZYDIS_MNEMONIC_FXSAVE64})
        t.add(m, [](const DecodeView& d, Insn& i) {
            i.osize = d.ins.mnemonic == ZYDIS_MNEMONIC_FXSAVE64 ? 8 : 4;
            return mem_only(d, fxsave);
        });
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_FXRSTOR, ZYDIS_MNEMONIC_FXRSTOR64})
        t.add(m, [](const DecodeView& d, Insn& i) {
            i.osize = d.ins.mnemonic == ZYDIS_MNEMONIC_FXRSTOR64 ? 8 : 4;
            return mem_only(d, fxrstor);
        });
    t.add(ZYDIS_MNEMONIC_LDMXCSR, [](const DecodeView& d, Insn&) { return mem_only(d, ldmxcsr); });
    t.add(ZYDIS_MNEMONIC_STMXCSR, [](const DecodeView& d, Insn&) { return mem_only(d, stmxcsr); });
}

}  // namespace popek::emu
