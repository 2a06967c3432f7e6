#pragma once
/// One recording or replay of a VM on the own engine (`popek run --record FILE` / `--replay
/// FILE`, docs/record-replay.md). The engine side (emu/determinism.h) makes the vCPU's clock a
/// function of its instruction count; this class logs, or serves from the log, what is left:
/// the data the VMM's devices answer port and MMIO reads with, RDRAND/RDSEED values and console
/// input (fed only while the vCPU is halted, at a point the log names), and the guest RAM the
/// back ends (virtio-blk, virtio-rng) wrote while they served an exit: logged as Dma events, and
/// on a replay, where stand-ins without host files serve the same requests, written back over
/// what the stand-ins wrote (they must write the same ranges). Every exit is a
/// checkpoint (instruction count, RIP, exit, register checksum); the end compares the guest
/// RAM's and the serial output's hashes. A difference is "replay diverged at instruction N".
#include <sodium.h>

#include <condition_variable>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emu/determinism.h"
#include "hv/hypervisor.h"
#include "memory/guest_memory.h"
#include "replay/memory_hash.h"
#include "replay/rr_log.h"
#include "util/result.h"

namespace popek::replay {

class Session final : public emu::Determinism {
public:
    using InputTarget = std::function<size_t(std::span<const uint8_t>)>;
    /// Hands one network frame to a NIC's device (virtio-net receive, the Xen vif's deliver).
    using FrameTarget = std::function<void(std::span<const uint8_t>)>;
    /// Called when the session must end the VM (a replay reached the recording's end while the
    /// guest idled, or diverged inside the engine): status and reason. Returns false when the
    /// end is held (gdb on a replay stops there, vmm/vm_lifecycle.h): the vCPU stays halted.
    using EndVm = std::function<bool(int, std::string)>;

    static Result<std::unique_ptr<Session>> record(const std::string& path, const std::string& config);
    /// Opens the log; check_config() then compares the VM description (which may need values
    /// only the log has: recorded_config()).
    static Result<std::unique_ptr<Session>> replay(const std::string& path);
    ~Session() override;
    /// The VM description the log was recorded with (replay).
    const std::string& recorded_config() const;
    /// A replay whose options differ from the recording's is refused, naming the first line.
    Result<void> check_config(const std::string& config) const;
    /// Guest RAM, for Dma events (read when recording, written when replaying).
    void set_memory(const memory::GuestMemory& mem) { m_memory = &mem; }
    /// The vCPU threads start: from here every guest RAM write of a back end must come from an exit.
    void vcpus_started() { m_started = true; }

    bool replaying() const { return m_replay; }
    void set_input_target(InputTarget t) { m_input_target = std::move(t); }
    void set_end_vm(EndVm e) { m_end_vm = std::move(e); }

    // ---- emu::Determinism (the vCPU thread) ----
    void attach_instructions(const uint64_t* instructions) override { m_counters.push_back(instructions); }
    uint64_t now_ns() override;
    void idle(uint64_t deadline_ns) override;
    bool random(void* out, size_t size) override;
    void poll_point(emu::Cpu& cpu) override {
        if (m_tick) m_tick();
        if (m_poll_hook) m_poll_hook(cpu);
    }
    void wrote_ram(uint64_t gpa, uint64_t len) override;

    /// Timers kept outside the engine (Xen's singleshot timers, vmm/xen_platform_rr.cpp): `tick`
    /// fires the due ones, at every poll point and after every idle; `next` is the earliest
    /// deadline (UINT64_MAX: none), which bounds an idle's jump of the virtual clock.
    void set_timers(std::function<void()> tick, std::function<uint64_t()> next) {
        m_tick = std::move(tick);
        m_next_deadline = std::move(next);
    }

    // ---- reverse execution (replay/history.h) ----
    /// Called at every deterministic poll point on the vCPU thread (where snapshots are taken).
    void set_poll_hook(std::function<void(emu::Cpu&)> hook) { m_poll_hook = std::move(hook); }
    /// Everything of the session a snapshot must take back with the VM: the log position (so
    /// the device answers, RDRAND values and input the log holds line up with the rewound
    /// run), the virtual clock's idle skips, the serial output hash.
    struct State {
        size_t log_offset = 0;
        bool log_ended = false;
        std::optional<Event> peeked;
        uint64_t skipped_ns = 0, last_ns = 0, idles = 0, serial_bytes = 0;
        crypto_generichash_state serial_hash{};
    };
    State save_state() const;
    void restore_state(const State& s);

    // ---- the VMM's vCPU loop ----
    /// Before the exit is dispatched: the checkpoint. An error: the replay diverged.
    Result<void> before_dispatch(hv::Vcpu& vcpu, const hv::VcpuExit& exit);
    /// After: a read's answer is logged, or replaced by the logged one; the guest RAM back ends
    /// wrote during the exit is logged, or overwritten with the logged bytes.
    Result<void> after_dispatch(const hv::VcpuExit& exit);

    /// A NIC (replay/recorded_net.h), before the vCPUs run: its index in Frame events.
    size_t add_nic(FrameTarget target);

    /// `--share` (replay/recorded_share.h), on the vCPU thread inside an exit: a recording logs
    /// the host directory's answer to one request (Share event: the response's bytes, and how
    /// many data bytes the back end read from and copied into the guest's pages); a replay takes the next one
    /// from the log (nullopt: the replay diverged, and the VM is being ended).
    void log_share_answer(std::span<const uint8_t> answer, uint32_t gathered, uint32_t scattered);
    std::optional<Event> replay_share_answer();
    /// A back end found the replay diverging (e.g. the log's answer is for another request):
    /// the run ends with "replay diverged at instruction N: what".
    void backend_diverged(const std::string& what) { fail_in_engine(what); }

    // ---- other threads ----
    /// A frame from NIC `nic`'s host network (its back end's thread): a recording delivers it at
    /// the next halt and logs it there (Frame event); a replay takes its frames from the log.
    void queue_frame(size_t nic, std::span<const uint8_t> frame);
    /// The console input pump's sink: recording queues the bytes for the next halt; a replay
    /// takes them and drops them (its input is the log's).
    size_t queue_input(std::span<const uint8_t> bytes);
    /// Serial output (hashed for the End check). Returns the part not shown before: a run
    /// rewound by reverse execution re-emits bytes the user has already seen.
    std::span<const uint8_t> note_serial(std::span<const uint8_t> bytes);
    /// The VM is ending: a vCPU waiting in idle() for input returns.
    void stop();
    /// The console input has ended (EOF, or none): a recording's idle guest no longer waits at
    /// the host's pace for typing, its virtual clock jumps to the deadline at once.
    void input_ended();

    /// After the vCPU threads ended: writes (record) or checks (replay) the End event. Returns
    /// the guest memory hash as hex for the user.
    Result<std::string> finish(int status, const memory::GuestMemory& mem);
    uint64_t instructions() const { return icount(); }
    uint64_t log_bytes() const { return m_writer ? m_writer->bytes_written() : 0; }

private:
    Session() = default;
    /// Retired instructions of every vCPU (one thread runs them all: emu/determinism.h).
    uint64_t icount() const {
        uint64_t n = 0;
        for (const uint64_t* c : m_counters) n += *c;
        return n;
    }
    /// The next logged event (replay), or the divergence error.
    Result<Event> expect(EventType type, const char* what);
    std::unexpected<Error> diverged(const std::string& what) const;
    void fail_in_engine(const std::string& what);
    /// idle() without the external timers.
    void idle_until(uint64_t deadline_ns);
    /// The Dma events of the exit that just ended (after_dispatch).
    Result<void> log_ram_writes();

    bool m_replay = false;
    std::string m_path;   ///< the log (replay), for messages
    std::optional<LogWriter> m_writer;
    std::optional<LogReader> m_reader;
    std::optional<Event> m_peeked;
    std::vector<const uint64_t*> m_counters;   ///< each vCPU's retired instructions
    uint64_t m_skipped_ns = 0;   ///< idle time the virtual clock jumped over
    uint64_t m_last_ns = 0;      ///< the clock never goes back (a faulting instruction is uncounted)
    uint64_t m_idles = 0;
    std::string m_engine_error;  ///< "replay diverged ...", found inside the engine (random, idle)
    InputTarget m_input_target;
    EndVm m_end_vm;
    crypto_generichash_state m_serial_hash{};
    uint64_t m_serial_bytes = 0;     ///< serial bytes of this run so far (rewound with it)
    uint64_t m_serial_shown = 0;     ///< the most ever written out (never rewound)
    std::function<void(emu::Cpu&)> m_poll_hook;
    std::function<void()> m_tick;
    std::function<uint64_t()> m_next_deadline;
    const memory::GuestMemory* m_memory = nullptr;
    struct Range {
        uint64_t gpa, len;
    };
    std::vector<Range> m_ram_writes;   ///< written during the current exit (vCPU thread only)
    std::atomic<bool> m_started{false};
    bool m_in_exit = false;   ///< vCPU thread only
    std::string m_async_write;     ///< under m_input_mutex: a write outside an exit (not recordable)
    MemoryHasher m_memory_hasher;   ///< (opens /proc/self/pagemap when the session is made)
    std::mutex m_input_mutex;
    std::condition_variable m_input_cv;
    std::deque<uint8_t> m_input;   ///< record: bytes typed and not yet fed (under m_input_mutex)
    struct QueuedFrame {
        uint8_t nic;
        std::vector<uint8_t> bytes;
    };
    std::deque<QueuedFrame> m_frames;   ///< record: frames not yet delivered (under m_input_mutex)
    std::vector<FrameTarget> m_frame_targets;   ///< set before the vCPUs run
    bool m_stopping = false;       ///< under m_input_mutex
    bool m_input_open = true;      ///< under m_input_mutex: input may still be typed
};

/// The VM description a log carries: what a replay must be started with.
/// `devices`: more `key=value` lines (disks with their sizes, rng), empty for none.
std::string describe_vm_for_log(hv::Accel accel, uint64_t mem_mib, int cpus, const std::string& kernel,
                                const std::string& initrd, const std::string& cmdline, bool test_device,
                                const std::string& devices = {});

}  // namespace popek::replay
