#pragma once
/// Narrowing a mismatch down to the instruction where the two sides first disagree: prefixes of
/// the sequence are run on both sides, shortest first.
#include <optional>
#include <string>
#include <vector>

#include "engine_runner.h"
#include "generator.h"
#include "native_runner.h"

namespace popek::difftest {

/// The first `count` instructions of `c` as a case of their own; the flags compared at its end
/// are those defined before instruction `count` of the original.
Case prefix_case(const Case& c, size_t count);

struct Divergence {
    size_t index;                     ///< the instruction after which the states first differ
    std::vector<std::string> diffs;   ///< the differences after that prefix
};

/// The shortest prefix whose outcomes differ, or nullopt if none does (then only the whole
/// sequence differs, e.g. through an interaction the prefixes do not show) or a run failed.
std::optional<Divergence> first_divergence(const Case& c, NativeRunner& native, EngineRunner& engine);

}  // namespace popek::difftest
