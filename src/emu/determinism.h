#pragma once
/// What makes a run of the own engine reproducible (`popek run --record / --replay`,
/// src/replay/, docs/record-replay.md). The engine's remaining sources of non-determinism are
/// the host clock (RDTSC, the APIC, TSC-deadline and PIT timers: emu/irqchip/guest_clock.h), the
/// alarm thread that raises a vCPU's attention flag at a timer deadline, and RDRAND/RDSEED
/// (SDM Vol. 2B "RDRAND"). Under a Determinism the guest clock reads virtual time derived from
/// the vCPU's retired instruction count (the interp Vm injects it as the clock's NowFn, which
/// also keeps the alarm thread out: timers are polled every few thousand instructions), a
/// halted vCPU's time jumps to its next timer deadline instead of waiting for the host, and
/// RDRAND/RDSEED values come from the recorder or the log.
///
/// The vCPU thread sets t_determinism; the engine calls it on that thread. With more than one
/// vCPU (EngineShared::serialized) every vCPU runs on that one thread, in turns: a vCPU's run()
/// ends with hv::Yield at each of its poll points (every Cpu::kDetPollInterval instructions) and
/// whenever it idles (halted, waiting for a SIPI); the VMM runs them round-robin in index order
/// and calls idle() itself, with the earliest deadline, only when every vCPU yielded idle. An IPI
/// reaches its target at that vCPU's next poll point. The virtual clock is the sum of all vCPUs'
/// retired instructions, so the interleaving, the interrupts and the time are all functions of
/// the instruction streams: a replay retraces the recording's interleaving exactly.
#include <cstddef>
#include <cstdint>

namespace popek::emu {

class Cpu;

class Determinism {
public:
    virtual ~Determinism() = default;
    /// A vCPU's retired-instruction counter (VcpuStats::instructions), read by now_ns(); called
    /// once per vCPU: the count the log and the clock use is their sum.
    virtual void attach_instructions(const uint64_t* instructions) = 0;
    /// The virtual time in nanoseconds (monotonic): a function of the instruction count and of
    /// the idle time skipped so far.
    virtual uint64_t now_ns() = 0;
    /// The vCPU is halted and its next timer fires at `deadline_ns` (UINT64_MAX: none). Feeds
    /// recorded or logged console input, or moves the virtual time to the deadline; may block
    /// briefly for host input. The engine then polls again instead of sleeping.
    virtual void idle(uint64_t deadline_ns) = 0;
    /// RDRAND/RDSEED: `size` random bytes into `out`; false: none (CF=0, the guest retries).
    virtual bool random(void* out, size_t size) = 0;
    /// A deterministic poll point (Cpu::schedule) at a clean instruction boundary, before the
    /// poll: where reverse execution takes its snapshots (replay/history.h).
    virtual void poll_point(Cpu& cpu) { (void)cpu; }
    /// A back end (virtio, Xen) wrote guest RAM [gpa, gpa+len) (hv::Vm::device_wrote_ram, from
    /// any thread): a recording logs those bytes, a replay writes the logged ones back.
    virtual void wrote_ram(uint64_t gpa, uint64_t len) {
        (void)gpa;
        (void)len;
    }
};

/// The calling vCPU thread's Determinism (null: a normal run).
inline thread_local Determinism* t_determinism = nullptr;

}  // namespace popek::emu
