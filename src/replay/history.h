#pragma once
/// Reverse execution on a replay (`popek run --replay FILE --gdb ...`, docs/debugging.md
/// "Reverse debugging"): in-memory snapshots of the whole VM every N instructions, taken at the
/// engine's deterministic poll points (emu::Cpu::schedule). gdb goes back to instruction count
/// K by restoring the latest snapshot at or before K and re-executing forward to K (the vCPU
/// stops there exactly: emu::Cpu::stop_at); the replay stays the recording's because the log
/// position, the virtual clock's idle skips and the serial hash are rewound with it.
///
/// Memory is bounded: at most `max_snapshots`; when one more is due the ring drops every other
/// snapshot but the first and doubles the interval (so the snapshots stay spread over the whole
/// run). Guest RAM is kept per 4 KiB page, shared with the previous snapshot when unchanged
/// (a zero page costs nothing).
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "emu/cpu.h"
#include "gdb/reverse.h"
#include "replay/session.h"
#include "snapshot/engine_state.h"
#include "snapshot/snapshot_file.h"

namespace popek::replay {

/// Which instruction counts hold a snapshot (sorted), and when the next one is due. Pure logic.
class SnapshotSchedule {
public:
    SnapshotSchedule(uint64_t interval, size_t max_snapshots);
    /// A snapshot is due at `count`: none yet, or `interval` past the latest one.
    bool due(uint64_t count) const;
    /// Records one at `count` (> the latest). Returns the indices (descending) of the snapshots
    /// to drop to stay within the bound; the interval doubles when it thins.
    std::vector<size_t> add(uint64_t count);
    /// Index of the latest snapshot at or before `count`.
    std::optional<size_t> at_or_before(uint64_t count) const;
    const std::vector<uint64_t>& counts() const { return m_counts; }
    uint64_t interval() const { return m_interval; }

private:
    uint64_t m_interval;
    size_t m_max;
    std::vector<uint64_t> m_counts;
};

class History final : public gdb::ReplayHistory {
public:
    static constexpr uint64_t kDefaultInterval = 1'000'000;
    static constexpr size_t kDefaultMaxSnapshots = 64;

    History(Session& session, snapshot::EngineParts parts, const memory::GuestMemory& mem, uint64_t interval,
            size_t max_snapshots);
    /// The vCPU thread, at a deterministic poll point (Session::set_poll_hook).
    void poll_point(emu::Cpu& cpu);

    // ---- gdb::ReplayHistory (the stub's thread, every vCPU parked) ----
    std::optional<uint64_t> snapshot_at_or_before(uint64_t count) override;
    bool restore(uint64_t count) override;
    std::string describe() override;

private:
    using Page = std::array<uint8_t, 4096>;
    struct Snapshot {
        uint64_t count = 0;
        emu::Cpu::Schedule schedule;
        Session::State session;
        snapshot::Image engine;
        std::vector<std::shared_ptr<const Page>> pages;   ///< null: a zero page
        uint64_t new_pages = 0;                           ///< pages not shared with the one before
    };
    Session& m_session;
    snapshot::EngineParts m_parts;
    const memory::GuestMemory& m_mem;
    std::mutex m_mutex;
    SnapshotSchedule m_schedule;
    std::vector<Snapshot> m_snapshots;   ///< parallel to m_schedule.counts()
    uint64_t m_taken = 0;
};

}  // namespace popek::replay
