#pragma once
/// Pausing a VM on the own engine (PATCH /vm Paused, docs/api.md): every vCPU stops at an
/// instruction boundary and the guest's clock stands still until resume.
///
/// It reuses the engine's stop-the-world path (emu/debug_hook.h): installed as the engine's
/// DebugHook while no host debugger holds it, it sets EngineShared::debug_pause and kicks every
/// vCPU (which also wakes one halted in HLT); each vCPU parks in Cpu::service() at its next
/// instruction boundary and waits here. Only then is the clock paused, so no vCPU sees time stop
/// in the middle of its work; on resume the clock restarts before any vCPU is let go. Under
/// `--gdb` the stub owns that path and pausing is refused.
#include <condition_variable>
#include <mutex>

#include "emu/debug_hook.h"
#include "emu/engine_shared.h"
#include "util/result.h"

namespace popek::hv::interp {

class EnginePause final : public emu::DebugHook {
public:
    /// Installs itself as `shared`'s hook when nothing else is (call before the vCPUs start).
    explicit EnginePause(emu::EngineShared& shared);
    ~EnginePause() override;

    /// Returns once every running vCPU is parked (bounded wait: a vCPU busy in the VMM parks as
    /// soon as it re-enters the engine). Fails under --gdb.
    Result<void> pause();
    Result<void> resume();
    bool paused() const;

    // emu::DebugHook, on the vCPU threads.
    bool stopped(emu::Cpu& cpu, Reason why, uint64_t watch_addr, uint8_t watch_kind) override;
    void park(emu::Cpu& cpu) override;

private:
    int live_vcpus() const;

    emu::EngineShared& m_shared;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_paused = false;
    int m_parked = 0;
};

}  // namespace popek::hv::interp
