#pragma once
/// The gdb stub's hold on the own engine's vCPUs (emu/debug_hook.h): stopping the world, single-
/// stepping one vCPU, resuming, and guest-virtual memory access through a vCPU's page tables.
///
/// All-stop: when one vCPU stops (breakpoint, step, watchpoint) or the client interrupts, every
/// vCPU is paused: EngineShared::debug_pause is set and each vCPU is kicked (its `attention`
/// flag, which also wakes one halted in HLT); at its next instruction boundary it calls park()
/// from Cpu::service() and waits on a condition variable. A single-step lets only the stepping
/// vCPU run; the others stay parked. Registers and memory are read and written only while the
/// world is stopped, from the stub's thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "emu/debug_hook.h"
#include "emu/engine_shared.h"
#include "gdb/reverse.h"

namespace popek::gdb {

struct StopInfo {
    int cpu = 0;
    int signal = 5;   ///< SIGTRAP; 2 (SIGINT) for an interrupt
    emu::DebugHook::Reason reason = emu::DebugHook::kNone;
    uint64_t watch_addr = 0;
    uint8_t watch_kind = 0;
    /// Reverse execution reached the start of the replay (`replaylog:begin`).
    bool history_begin = false;
    /// The replay reached the end of the recording (`replaylog:end`).
    bool history_end = false;
};

class VcpuControl final : public emu::DebugHook {
public:
    /// `stopped_at_start`: --gdb-wait, the world is stopped before the first instruction.
    VcpuControl(emu::EngineShared& shared, bool stopped_at_start);
    ~VcpuControl() override;

    // ---- emu::DebugHook (vCPU threads) ----
    bool stopped(emu::Cpu& cpu, Reason why, uint64_t watch_addr, uint8_t watch_kind) override;
    void park(emu::Cpu& cpu) override;

    // ---- the stub's thread ----
    int vcpu_count() const { return static_cast<int>(m_shared.cpus.size()); }
    emu::Cpu* cpu(int index) const;
    /// Stops the world (Ctrl-C, a client connecting); waits (bounded) until the vCPUs are parked.
    StopInfo stop_all(int signal);
    /// A stop a vCPU reported since the last resume, once the world is parked (bounded wait).
    std::optional<StopInfo> take_stop(std::chrono::milliseconds wait);
    bool is_stopped() const;
    /// Resumes every vCPU (`step_cpu` < 0), or single-steps that one vCPU alone.
    void resume(int step_cpu);
    /// The client left: host breakpoints and watchpoints are removed and the guest continues.
    void detach();
    /// Guest-virtual memory of vCPU `cpu` (its current page tables, supervisor access). Returns
    /// the bytes done before the first unmapped or non-RAM page.
    size_t read_memory(int cpu, uint64_t va, uint8_t* out, size_t len);
    size_t write_memory(int cpu, uint64_t va, const uint8_t* in, size_t len);
    emu::HostDebug& host_debug() { return m_shared.host_debug; }

    // ---- reverse execution (gdb/reverse.h), world stopped ----
    /// Runs vCPU `cpu` forward until its instruction count is `count` (emu::Cpu::stop_at) and
    /// returns that stop (at linear RIP `lip` too, unless ~0). `hits` null: breakpoints and watchpoints are ignored (and disarmed, so
    /// the engine runs at full speed); else each one met is appended and the run goes on.
    /// nullopt: the VM ended first.
    std::optional<StopInfo> run_to(int cpu, uint64_t count, std::vector<Hit>* hits, uint64_t lip = ~uint64_t{0});
    /// The replay's snapshots (`--replay` with `--gdb`), or null: no reverse execution.
    void set_history(ReplayHistory* h) { m_history = h; }
    ReplayHistory* history() const { return m_history; }
    emu::EngineShared& shared() { return m_shared; }

    // ---- the end of a replay (docs/debugging.md "Reverse debugging") ----
    /// The vCPU thread, when the replay reaches the recording's end (the guest's power-off, its
    /// debug-exit, the log's End): with a client attached and reverse execution possible, the
    /// vCPU stops right there (a `replaylog:end` stop, before any further instruction) instead
    /// of the VM ending; `finish` ends it when gdb resumes forward (or leaves). False: end now.
    bool hold_end(std::function<void()> finish);
    /// A client is connected (the stub's thread).
    void set_client(bool attached);
    /// A snapshot was restored: the vCPU no longer stands at the end.
    void left_end();

private:
    void wait_resumed(std::unique_lock<std::mutex>& lock, emu::Cpu& cpu);
    void pause_locked();
    void wait_parked(std::unique_lock<std::mutex>& lock);
    uint8_t* guest_ptr(int cpu, uint64_t va, size_t len);

    emu::EngineShared& m_shared;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_paused = false;
    int m_step_cpu = -1;
    int m_parked = 0;
    uint64_t m_generation = 0;
    std::optional<StopInfo> m_pending;
    std::vector<Hit>* m_hits = nullptr;   ///< run_to: record hits instead of stopping
    bool m_seeking = false;               ///< run_to in progress: only kSeek stops
    ReplayHistory* m_history = nullptr;
    bool m_client = false;
    bool m_at_end = false;                ///< hold_end(): the end is held, m_finish ends the VM
    std::function<void()> m_finish;
};

}  // namespace popek::gdb
