#include "generator.h"

#include <vector>

#include "templates.h"

namespace popek::difftest {
namespace {

std::vector<const Template*> all_templates() {
    std::vector<const Template*> out;
    for (auto group : {data_move_templates(), arith_templates(), shift_templates(), misc_templates(), sse_templates()})
        for (const Template& t : group) out.push_back(&t);
    return out;
}

/// `filter`: comma-separated parts; a name is used if it contains one of the plain parts (or
/// there are none) and none of the parts written with a leading '-'.
bool matches(std::string_view filter, std::string_view name) {
    bool any_include = false, included = false;
    size_t pos = 0;
    while (pos <= filter.size()) {
        size_t comma = filter.find(',', pos);
        if (comma == std::string_view::npos) comma = filter.size();
        std::string_view part = filter.substr(pos, comma - pos);
        pos = comma + 1;
        if (part.empty()) continue;
        if (part[0] == '-') {
            if (name.find(part.substr(1)) != std::string_view::npos) return false;
            continue;
        }
        any_include = true;
        if (name.find(part) != std::string_view::npos) included = true;
    }
    return included || !any_include;
}

/// Registers that can hold the data buffer's base: none that an instruction uses implicitly
/// (RAX RCX RDX for mul/div/shifts/cmpxchg, RSI RDI for strings, RSP for the stack).
constexpr int kBaseCandidates[] = {3 /*rbx*/, 5 /*rbp*/, 8, 9, 10, 11, 12, 13, 14, 15};

}  // namespace

const InsnRecord* Case::insn_at(uint64_t rip) const {
    for (const InsnRecord& r : insns)
        if (kCodeAddr + r.offset == rip) return &r;
    return nullptr;
}

std::vector<std::string_view> template_names() {
    std::vector<std::string_view> names;
    for (const Template* t : all_templates()) names.push_back(t->name);
    return names;
}

bool filter_matches_any(std::string_view filter) {
    for (const Template* t : all_templates())
        if (matches(filter, t->name)) return true;
    return false;
}

Case generate_case(uint64_t seed, const GeneratorOptions& options) {
    Case c;
    c.seed = seed;
    Gen g(seed, c);
    c.base_reg = g.rng.pick(kBaseCandidates);

    for (uint64_t& r : c.initial.gpr) r = g.interesting_value();
    c.initial.gpr[4] = kInitialRsp;
    c.initial.gpr[static_cast<size_t>(c.base_reg)] = kBaseValue;
    c.initial.rip = kCodeAddr;
    c.initial.rflags = kFixedFlags | (g.rng.next() & kStatusFlags) | (g.rng.chance(10) ? kDF : 0);

    c.data.resize(kDataSize);
    for (size_t i = 0; i < kDataSize; i += 8) {
        const uint64_t v = g.rng.chance(30) ? g.interesting_value() : g.rng.next();
        for (size_t b = 0; b < 8; ++b) c.data[i + b] = static_cast<uint8_t>(v >> (8 * b));
    }

    std::vector<const Template*> pool;
    int total = 0;
    for (const Template* t : all_templates()) {
        if (!matches(options.filter, t->name)) continue;
        pool.push_back(t);
        total += t->weight;
    }
    for (int i = 0; i < options.length && total > 0; ++i) {
        uint64_t pick = g.rng.below(static_cast<uint64_t>(total));
        for (const Template* t : pool) {
            if (pick < static_cast<uint64_t>(t->weight)) {
                g.begin_template(t->name);
                t->emit(g);
                break;
            }
            pick -= static_cast<uint64_t>(t->weight);
        }
        if (g.cg.getSize() > Gen::kMaxCode - 256) break;  // no template emits more than this
    }
    c.code.assign(g.code_buffer.begin(), g.code_buffer.begin() + static_cast<std::ptrdiff_t>(g.cg.getSize()));
    c.defined_at_end = g.defined_flags();
    return c;
}

}  // namespace popek::difftest
