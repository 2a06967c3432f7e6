#pragma once
/// Reverse execution for the gdb stub (GDB manual, E.2 `bs`, `bc`; E.3 "Stop Reply Packets",
/// `replaylog`): what the stub needs of a replay (`popek run --replay FILE --gdb ...`,
/// src/replay/history.h keeps the snapshots), and the pure seek arithmetic of
/// reverse-continue. docs/debugging.md "Reverse debugging" has the design.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace popek::gdb {

/// In-memory snapshots of a deterministic replay, keyed by the vCPU's instruction count.
class ReplayHistory {
public:
    virtual ~ReplayHistory() = default;
    /// The count of the latest snapshot at or before `count`; nullopt: none (before the first).
    virtual std::optional<uint64_t> snapshot_at_or_before(uint64_t count) = 0;
    /// Sets the whole VM (CPU, devices, RAM, the replay log's position) to the snapshot taken at
    /// `count`, while every vCPU is parked. False: no such snapshot.
    virtual bool restore(uint64_t count) = 0;
    /// One line for `monitor history`.
    virtual std::string describe() = 0;
};

/// A breakpoint or watchpoint met while re-executing a stretch of the replay.
struct Hit {
    uint64_t count = 0;   ///< the instruction count when it was met (a watchpoint: after the access)
    int reason = 0;       ///< emu::DebugHook::kBreakpoint or kWatch
    uint64_t watch_addr = 0;
    uint8_t watch_kind = 0;
    uint64_t lip = ~uint64_t{0};   ///< a breakpoint's linear RIP (an interrupt's handler shares its count)
};

/// Where reverse-continue stops for a hit: at a breakpoint's instruction (before it runs), and
/// before the instruction that made a watched access (gdb then shows the value going back).
inline uint64_t reverse_target(const Hit& h) { return h.reason == 3 && h.count > 0 ? h.count - 1 : h.count; }

/// The last hit (in execution order) whose reverse target lies before `now`; nullopt: none.
/// A breakpoint at `now` itself is where the vCPU stands, not a hit behind it.
inline std::optional<Hit> last_hit_before(const std::vector<Hit>& hits, uint64_t now) {
    std::optional<Hit> best;
    for (const Hit& h : hits)
        if (reverse_target(h) < now && (!best || reverse_target(h) >= reverse_target(*best))) best = h;
    return best;
}

}  // namespace popek::gdb
