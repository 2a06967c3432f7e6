/// AES-NI and PCLMULQDQ in the block translator's native SSE (emu/bt/sse_ops.cpp): the same host
/// instruction as the interpreter's handler (emu/interp/sse_crypto.cpp), guest XMMn in host XMMn.
/// Their operand shapes are those of the native SSE kinds: AESENC/AESENCLAST/AESDEC/AESDECLAST/
/// AESIMC are "xmm, xmm/m128" (Kind::Binary), AESKEYGENASSIST and PCLMULQDQ "xmm, xmm/m128, imm8"
/// (Kind::Shuffle). Exceptions Type 4 (SDM Vol. 2A 2.8): the CR0/CR4 guard and the m128
/// alignment #GP(0) of the other SSE instructions, so sse_ops.cpp handles them unchanged.
/// Emitted only when the host has them; otherwise the interpreter's selector already made them #UD.
#include "emu/bt/block_emitter.h"
#include "emu/interp/families.h"

namespace popek::emu::bt {

bool is_crypto_binary(unsigned m) {
    switch (m) {
        case ZYDIS_MNEMONIC_AESENC: case ZYDIS_MNEMONIC_AESENCLAST: case ZYDIS_MNEMONIC_AESDEC:
        case ZYDIS_MNEMONIC_AESDECLAST: case ZYDIS_MNEMONIC_AESIMC:
            return host_has_aes();
        default:
            return false;
    }
}

bool is_crypto_imm(unsigned m) {
    switch (m) {
        case ZYDIS_MNEMONIC_AESKEYGENASSIST: return host_has_aes();
        case ZYDIS_MNEMONIC_PCLMULQDQ: return host_has_pclmulqdq();
        default: return false;
    }
}

void emit_crypto_op(Xbyak::CodeGenerator& g, unsigned m, const Xbyak::Xmm& d, const Xbyak::Operand& s, uint8_t imm) {
    switch (m) {
        case ZYDIS_MNEMONIC_AESENC: g.aesenc(d, s); return;
        case ZYDIS_MNEMONIC_AESENCLAST: g.aesenclast(d, s); return;
        case ZYDIS_MNEMONIC_AESDEC: g.aesdec(d, s); return;
        case ZYDIS_MNEMONIC_AESDECLAST: g.aesdeclast(d, s); return;
        case ZYDIS_MNEMONIC_AESIMC: g.aesimc(d, s); return;
        case ZYDIS_MNEMONIC_AESKEYGENASSIST: g.aeskeygenassist(d, s, imm); return;
        case ZYDIS_MNEMONIC_PCLMULQDQ: g.pclmulqdq(d, s, imm); return;
        default: throw Xbyak::Error(Xbyak::ERR_INTERNAL);
    }
}

}  // namespace popek::emu::bt
