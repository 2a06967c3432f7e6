#pragma once
/// Runs cases in a popek engine through the hv seam: one VM and vCPU reused for every case; per
/// case the code, data and registers are loaded, run() goes until the OUT of the tail or of an
/// exception stub, and the registers (for an exception: RIP, RFLAGS, RSP from the IST frame)
/// and data memory are read back. A watchdog stops a run that does not end.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "generator.h"
#include "hv/hypervisor.h"
#include "layout.h"

namespace popek::difftest {

class EngineRunner {
public:
    /// Opens the engine; the error explains why it cannot be used on this host.
    static Result<std::unique_ptr<EngineRunner>> create(hv::Accel accel);
    ~EngineRunner();

    Result<Outcome> run(const Case& c);

private:
    explicit EngineRunner(std::unique_ptr<hv::Hypervisor> hv) : m_hv(std::move(hv)) {}
    Result<void> build_vm();
    Outcome read_outcome(const Case& c, const hv::CpuState& st, uint16_t port);
    void watchdog_loop();

    std::optional<memory::GuestMemory> m_mem;   // outlives the VM that maps it
    std::unique_ptr<hv::Hypervisor> m_hv;
    std::unique_ptr<hv::Vm> m_vm;
    std::unique_ptr<hv::Vcpu> m_vcpu;
    uint64_t m_cr3 = 0;

    // The watchdog polls: a run whose generation stays the same for the timeout is stopped.
    // Nothing is signalled per run, so fast engines pay no thread wake-ups.
    std::mutex m_lock;                           // guards m_vcpu against the watchdog, and m_quit
    std::condition_variable m_quit_cv;
    bool m_quit = false;
    std::atomic<uint64_t> m_generation{0};       // odd while a run is in progress
    std::atomic<bool> m_timed_out{false};
    std::thread m_watchdog;
};

}  // namespace popek::difftest
