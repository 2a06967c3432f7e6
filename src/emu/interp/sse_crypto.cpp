/// AES-NI and PCLMULQDQ, legacy-SSE encodings (SDM Vol. 2A "AESDEC", "AESDECLAST", "AESENC",
/// "AESENCLAST", "AESIMC", "AESKEYGENASSIST"; Vol. 2B "PCLMULQDQ"). Each runs as the host
/// instruction, so CPUID.1:ECX reports AES (bit 25) and PCLMULQDQ (bit 1) only when the host has
/// them (cpuid.cpp), and without them the selectors leave the instructions undefined (#UD, as a
/// CPU whose CPUID flag is 0, SDM Vol. 2A 2.8 "Exceptions Type 4").
///
/// Exceptions Type 4 (SDM Vol. 2A 2.8, table "Type 4 Class Exception Conditions"): #UD when
/// CR0.EM = 1 or CR4.OSFXSR = 0, #NM when CR0.TS = 1, and #GP(0) for a legacy-SSE m128 operand
/// that is not 16-byte aligned (sse::src1, as for PADDB). No MXCSR involvement, no flags.
/// The VEX forms (VAESENC.., VPCLMULQDQ) are other Zydis mnemonics and stay #UD (no AVX).
#include "emu/interp/sse_common.h"

namespace popek::emu {
namespace {

using sse::Vec;

/// "xmm1, xmm2/m128" AES instructions, as (Zydis mnemonic, host mnemonic).
/// AESENC/AESENCLAST: one (last) encryption round, ShiftRows SubBytes (MixColumns) then XOR the
/// round key in operand 2; AESDEC/AESDECLAST: the inverse round (Equivalent Inverse Cipher,
/// FIPS-197 5.3.5); AESIMC: InvMixColumns of operand 2 into operand 1 (decryption round keys).
#define POPEK_AES_OPS(X)                                                                           \
    X(AESENC, "aesenc") X(AESENCLAST, "aesenclast") X(AESDEC, "aesdec") X(AESDECLAST, "aesdeclast") \
    X(AESIMC, "aesimc")

#define X(m, insn) \
    void op_##m(Vec& d, Vec s) { asm(insn " %1, %0" : "+x"(d) : "x"(s)); }
POPEK_AES_OPS(X)
#undef X

/// AESKEYGENASSIST xmm1, xmm2/m128, imm8 (SDM Vol. 2A): with X1 = src[63:32], X3 = src[127:96]
/// and RCON = imm8 zero-extended, dest = {SubWord(X1), RotWord(SubWord(X1)) ^ RCON, SubWord(X3),
/// RotWord(SubWord(X3)) ^ RCON} (low dword first). The host instruction with RCON = 0 gives the
/// rest; RCON is XORed into dwords 1 and 3 here (no 256 instantiations for the immediate).
void aeskeygenassist(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const Vec s = sse::src1(c, i);
    Vec d;
    asm("aeskeygenassist $0, %1, %0" : "=x"(d) : "x"(s));
    const int rcon = static_cast<int>(i.imm & 0xff);
    sse::set_xmm(c, i.r0, _mm_xor_si128(d, _mm_set_epi32(rcon, 0, rcon, 0)));
}

/// PCLMULQDQ xmm1, xmm2/m128, imm8 (SDM Vol. 2B): the 128-bit carry-less product of quadword
/// imm8[0] of operand 1 and quadword imm8[4] of operand 2; the other immediate bits are ignored.
template <int Imm>
void pclmulqdq(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const Vec s = sse::src1(c, i);
    Vec d = sse::xmm(c, i.r0);
    asm("pclmulqdq %2, %1, %0" : "+x"(d) : "x"(s), "i"(Imm));
    sse::set_xmm(c, i.r0, d);
}

/// "xmm, xmm/m128" with nothing else visible.
bool form_binary(const DecodeView& d, Insn& i) {
    return d.ins.operand_count_visible == 2 && sse::form_xx(d, i);
}

/// "xmm, xmm/m128, imm8".
bool form_imm(const DecodeView& d, Insn& i) {
    return d.ins.operand_count_visible == 3 && d.ops[2].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && sse::form_xx(d, i);
}

}  // namespace

void register_sse_crypto(HandlerTable& t) {
#define X(m, insn)                                                                                 \
    t.add(ZYDIS_MNEMONIC_##m, [](const DecodeView& d, Insn& i) {                                   \
        return sse::when(host_has_aes() && form_binary(d, i), sse::binary<op_##m, false>);         \
    });
    POPEK_AES_OPS(X)
#undef X
    t.add(ZYDIS_MNEMONIC_AESKEYGENASSIST, [](const DecodeView& d, Insn& i) {
        return sse::when(host_has_aes() && form_imm(d, i), aeskeygenassist);
    });
    t.add(ZYDIS_MNEMONIC_PCLMULQDQ, [](const DecodeView& d, Insn& i) -> Handler {
        if (!host_has_pclmulqdq() || !form_imm(d, i)) return nullptr;
        switch (i.imm & 0x11) {
            case 0x00: return pclmulqdq<0x00>;
            case 0x01: return pclmulqdq<0x01>;
            case 0x10: return pclmulqdq<0x10>;
            default: return pclmulqdq<0x11>;
        }
    });
}

}  // namespace popek::emu
