#include "triage.h"

#include "compare.h"

namespace popek::difftest {

Case prefix_case(const Case& c, size_t count) {
    Case p = c;
    count = std::min(count, c.insns.size());
    p.insns.resize(count);
    const size_t end = count < c.insns.size() ? c.insns[count].offset : c.code.size();
    p.code.resize(end);
    p.defined_at_end = count < c.insns.size() ? c.insns[count].defined_before : c.defined_at_end;
    return p;
}

std::optional<Divergence> first_divergence(const Case& c, NativeRunner& native, EngineRunner& engine) {
    for (size_t n = 1; n <= c.insns.size(); ++n) {
        const Case p = prefix_case(c, n);
        auto a = native.run(p);
        auto b = engine.run(p);
        if (!a || !b) return std::nullopt;
        auto diffs = compare_outcomes(p, *a, *b);
        if (!diffs.empty()) return Divergence{n - 1, std::move(diffs)};
    }
    return std::nullopt;
}

}  // namespace popek::difftest
