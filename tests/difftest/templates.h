#pragma once
/// The instruction templates. Each draws its operands from the Gen and emits one instruction (plus
/// the preloads it needs: a shift count in CL, a dividend in RDX, string pointers) through
/// Gen::insn with the instruction's RFLAGS effect from the SDM.
#include <span>
#include <string_view>

#include "gen_context.h"

namespace popek::difftest {

struct Template {
    std::string_view name;
    int weight;
    void (*emit)(Gen& g);
};

std::span<const Template> data_move_templates();   // templates_move.cpp
std::span<const Template> arith_templates();       // templates_arith.cpp
std::span<const Template> shift_templates();       // templates_shift.cpp
std::span<const Template> misc_templates();        // templates_misc.cpp
std::span<const Template> sse_templates();         // templates_sse.cpp

}  // namespace popek::difftest
