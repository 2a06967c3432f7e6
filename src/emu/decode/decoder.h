#pragma once
/// Zydis glue: decodes one instruction into the engine's compact Insn form.
#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>

#include "emu/decode/insn.h"

namespace popek::emu {

enum class DecodeStatus { Ok, NeedMoreBytes, Invalid };

class Decoder {
public:
    Decoder();
    /// Decodes the instruction at `bytes` (at most `avail` bytes readable) for `code_bits` (16/32/64).
    /// `ends_block` is set for instructions after which a block must end (control transfers,
    /// mode changes). An unimplemented instruction yields Ok with the #UD handler.
    DecodeStatus decode(const uint8_t* bytes, size_t avail, int code_bits, Insn& out, bool& ends_block) const;

private:
    ZydisDecoder m_dec16, m_dec32, m_dec64;
};

}  // namespace popek::emu
