#pragma once
/// The decoded-instruction form the engine executes (threaded code): Zydis decodes once, the
/// decoder flattens the result into this compact struct and picks the handler, and the block cache
/// keeps arrays of these per guest-physical page. No Zydis call happens when cached code runs.
///
/// Adding an instruction family: write src/emu/interp/<family>.cpp with handlers
/// `void h(Cpu&, const Insn&)` and a `void register_<family>(HandlerTable&)` that maps Zydis
/// mnemonics to selectors (a selector looks at the decoded operands once and returns the handler,
/// or nullptr for forms it does not implement, which become #UD); then add the register function
/// to the list in src/emu/decode/handler_table.cpp. x87/SSE plug in the same way.
#include <Zydis/Zydis.h>

#include <array>
#include <cstdint>

namespace popek::emu {

class Cpu;
struct Insn;
using Handler = void (*)(Cpu&, const Insn&);

enum OpKind : uint8_t { kOpNone = 0, kOpReg = 1, kOpMem = 2, kOpImm = 3 };
inline constexpr uint8_t kRegRip = 16, kRegNone = 0xff;

// Insn::prefix bits.
inline constexpr uint8_t kPrefixRep = 1, kPrefixRepne = 2, kPrefixLock = 4;
// Insn::cls bits (Popek-Goldberg classification of the instruction).
inline constexpr uint8_t kClsPrivileged = 1, kClsSensitive = 2;

struct Insn {
    Handler fn = nullptr;
    /// For privileged/sensitive instructions fn is a wrapper that counts them (hv::VcpuStats) and
    /// then calls this handler, so the dispatch loop itself tests nothing per instruction.
    Handler counted = nullptr;
    uint64_t imm = 0;    ///< first immediate (sign-extended to 64 bits), branch displacement, far offset
    int64_t disp = 0;    ///< memory displacement
    uint16_t mnemonic = 0;
    uint16_t imm2 = 0;   ///< second immediate (ENTER level, far pointer selector)
    uint8_t len = 0;
    uint8_t osize = 4;   ///< operand size in bytes
    uint8_t asize = 8;   ///< address size in bytes
    uint8_t seg = 3;     ///< segment of the memory operand (SegReg)
    uint8_t base = kRegNone, index = kRegNone, scale_shift = 0;
    uint8_t r0 = 0, r1 = 0, r2 = 0;   ///< GPR index of operands 0..2 (8-bit: 16..19 = AH..BH)
    uint8_t k0 = kOpNone, k1 = kOpNone, k2 = kOpNone;
    uint8_t size1 = 0;   ///< size of operand 1 in bytes (MOVZX/MOVSX source, shift count)
    uint8_t prefix = 0;
    uint8_t cls = 0;
    uint8_t extra = 0;   ///< handler-specific: condition code, segment/control register number
    uint8_t gprs = 0;    ///< bit n: visible operand n is a general-purpose register (r<n> is valid)
    uint8_t xmms = 0;    ///< bit n: visible operand n is an XMM register, r<n> its number (sse::fix_xmm)
    bool rel_branch = false;   ///< operand 0 is a relative branch target: imm is added to next_rip
    bool far_branch = false;   ///< JMP/CALL/RET far (a new CS), not near
};

/// What a selector sees of the instruction being decoded.
struct DecodeView {
    const ZydisDecodedInstruction& ins;
    const ZydisDecodedOperand* ops;   ///< all operands (visible first)
    int code_bits;
};

using Selector = Handler (*)(const DecodeView&, Insn&);

struct HandlerTable {
    std::array<Selector, ZYDIS_MNEMONIC_MAX_VALUE + 1> select{};
    std::array<uint8_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> cls{};
    void add(ZydisMnemonic m, Selector s, uint8_t c = 0) {
        select[static_cast<size_t>(m)] = s;
        cls[static_cast<size_t>(m)] = c;
    }
};

/// The table of all families, built once.
const HandlerTable& handler_table();

/// GPR index of a Zydis register (8-bit high registers 16..19), or -1.
int gpr_index(ZydisRegister r);
/// Segment register number of a Zydis register, or -1.
int sreg_index(ZydisRegister r);

/// Handler raising #UD (also used for undecodable bytes).
void handle_undefined(Cpu& cpu, const Insn& insn);

/// Jcc rel8/rel32 (SDM Vol. 2A Jcc), not LOOPcc or JrCXZ.
constexpr bool is_jcc(uint16_t mnemonic) {
    switch (static_cast<ZydisMnemonic>(mnemonic)) {
        case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_JNB:
        case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ: case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE:
        case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
        case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_JNLE:
            return true;
        default:
            return false;
    }
}

}  // namespace popek::emu
