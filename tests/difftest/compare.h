#pragma once
/// Comparing a native outcome with an engine outcome, and printing a failing case.
#include <string>
#include <vector>

#include "generator.h"
#include "layout.h"

namespace popek::difftest {

/// Status flags (plus DF) that must agree for this outcome: those defined after the whole
/// sequence, or before the faulting instruction.
uint32_t compared_flags(const Case& c, const Outcome& reference);

/// One line per difference; empty when the outcomes agree.
std::vector<std::string> compare_outcomes(const Case& c, const Outcome& native, const Outcome& engine);

/// The sequence disassembled (Zydis, Intel syntax) with offsets, bytes and template names;
/// the native side stopped at `native_rip` (marked "N>"), the engine at `engine_rip` ("E>"),
/// the states first differ after `divergence_rip` ("D>").
std::string disassemble(const Case& c, uint64_t native_rip = 0, uint64_t engine_rip = 0,
                        uint64_t divergence_rip = 0);

/// Initial registers and flags of a case.
std::string describe_initial(const Case& c);

std::string_view gpr_name(size_t i);
std::string describe_end(const Outcome& o);

}  // namespace popek::difftest
