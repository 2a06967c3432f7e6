#pragma once
/// Random test cases: a sequence of unprivileged integer instructions, the registers and data
/// memory it starts with, and per instruction its offset and RFLAGS effect.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "flags.h"
#include "layout.h"

namespace popek::difftest {

struct InsnRecord {
    uint32_t offset = 0;           ///< from kCodeAddr
    uint32_t length = 0;
    FlagEffect effect;
    uint32_t defined_before = 0;   ///< status flags holding a defined value before this instruction
    std::string_view origin;       ///< name of the template that emitted it
};

struct Case {
    uint64_t seed = 0;
    int base_reg = 0;              ///< GPR reserved as the data buffer's base register
    std::vector<uint8_t> code;     ///< the sequence, without a tail
    std::vector<InsnRecord> insns;
    RegFile initial;
    std::vector<uint8_t> data;     ///< kDataSize bytes of initial data memory
    uint32_t defined_at_end = 0;

    uint64_t tail_addr() const { return kCodeAddr + code.size(); }
    /// The instruction starting at `rip`, or nullptr.
    const InsnRecord* insn_at(uint64_t rip) const;
};

struct GeneratorOptions {
    int length = 16;               ///< number of templates drawn per case
    /// Comma-separated substrings; a template is used if its name contains one of them (or none
    /// is given) and none of those written "-substring". Empty: all.
    std::string filter;
};

/// The names of every template, for --list and the unit tests.
std::vector<std::string_view> template_names();
/// True if at least one template matches `filter`.
bool filter_matches_any(std::string_view filter);

/// Builds the case for `seed`. The same seed and options give the same case, byte for byte.
Case generate_case(uint64_t seed, const GeneratorOptions& options);

}  // namespace popek::difftest
