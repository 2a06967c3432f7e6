#include "replay/session.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include <fmt/core.h>

namespace popek::replay {
namespace {

/// Virtual time: one nanosecond per retired instruction (a 1 GHz guest), plus skipped idle time.
constexpr uint64_t kNoDeadline = std::numeric_limits<uint64_t>::max();
constexpr const char* kind_name_dma = "a back end's write of guest RAM";

const char* type_name(EventType t) {
    switch (t) {
        case EventType::Exit: return "an exit";
        case EventType::Read: return "a device read";
        case EventType::Random: return "an RDRAND value";
        case EventType::Input: return "console input";
        case EventType::End: return "the end of the run";
        case EventType::Dma: return "a back end's write of guest RAM";
        case EventType::Frame: return "a network frame";
        case EventType::Share: return "the host directory's answer (--share)";
    }
    return "?";
}

const char* kind_name(ExitKind k) {
    switch (k) {
        case ExitKind::PioIn: return "port read";
        case ExitKind::PioOut: return "port write";
        case ExitKind::MmioRead: return "MMIO read";
        case ExitKind::MmioWrite: return "MMIO write";
        case ExitKind::Hypercall: return "hypercall";
        case ExitKind::Other: return "exit";
    }
    return "?";
}

std::string hex(std::span<const uint8_t> b) {
    std::string s;
    for (uint8_t x : b) s += fmt::format("{:02x}", x);
    return s;
}

/// BLAKE2b (libsodium) of the registers a divergence shows in first.
uint64_t register_checksum(const hv::CpuState& s) {
    uint64_t words[22];
    for (size_t i = 0; i < 16; ++i) words[i] = s.gpr[i];
    words[16] = s.rip;
    words[17] = s.rflags;
    words[18] = s.cr0;
    words[19] = s.cr3;
    words[20] = s.cr4;
    words[21] = s.efer;
    uint8_t out[8];
    crypto_generichash(out, sizeof out, reinterpret_cast<const uint8_t*>(words), sizeof words, nullptr, 0);
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v |= uint64_t{out[i]} << (8 * i);
    return v;
}

Event event(EventType type, uint64_t icount) {
    Event e;
    e.type = type;
    e.icount = icount;
    return e;
}

}  // namespace

std::string describe_vm_for_log(hv::Accel accel, uint64_t mem_mib, int cpus, const std::string& kernel,
                                const std::string& initrd, const std::string& cmdline, bool test_device,
                                const std::string& devices) {
    return fmt::format("accel={}\nmem_mib={}\ncpus={}\nkernel={}\ninitrd={}\ncmdline={}\ntest_device={}\n{}",
                       hv::accel_name(accel), mem_mib, cpus, kernel.empty() ? "(built-in demo guest)" : kernel, initrd,
                       cmdline, test_device ? 1 : 0, devices);
}

Result<std::unique_ptr<Session>> Session::record(const std::string& path, const std::string& config) {
    if (sodium_init() < 0) return fail("--record: libsodium failed to initialise");
    std::unique_ptr<Session> s(new Session());
    s->m_writer.emplace(TRY(LogWriter::create(path, config)));
    crypto_generichash_init(&s->m_serial_hash, nullptr, 0, 32);
    return s;
}

Result<std::unique_ptr<Session>> Session::replay(const std::string& path) {
    if (sodium_init() < 0) return fail("--replay: libsodium failed to initialise");
    std::unique_ptr<Session> s(new Session());
    s->m_replay = true;
    s->m_reader.emplace(TRY(LogReader::open_file(path)));
    s->m_path = path;
    crypto_generichash_init(&s->m_serial_hash, nullptr, 0, 32);
    return s;
}

const std::string& Session::recorded_config() const {
    static const std::string none;
    return m_reader ? m_reader->config() : none;
}

Result<void> Session::check_config(const std::string& config) const {
    const std::string& rec = recorded_config();
    if (rec == config) return {};
    // Name the first line that differs: the user gave another VM than the one recorded.
    size_t a = 0, b = 0;
    for (;;) {
        const size_t ea = rec.find('\n', a), eb = config.find('\n', b);
        const std::string la = rec.substr(a, ea == std::string::npos ? std::string::npos : ea - a);
        const std::string lb = config.substr(b, eb == std::string::npos ? std::string::npos : eb - b);
        if (la != lb || ea == std::string::npos || eb == std::string::npos)
            return fail("--replay '{}': the log was recorded with `{}`, this run has `{}` (replay with the "
                        "recording's options)", m_path, la, lb);
        a = ea + 1;
        b = eb + 1;
    }
}

Session::~Session() = default;

uint64_t Session::now_ns() {
    uint64_t t = icount() + m_skipped_ns;
    if (t < m_last_ns) t = m_last_ns;
    m_last_ns = t;
    return t;
}

std::unexpected<Error> Session::diverged(const std::string& what) const {
    return fail("replay diverged at instruction {}: {}", icount(), what);
}

void Session::fail_in_engine(const std::string& what) {
    if (!m_engine_error.empty()) return;
    m_engine_error = what.starts_with("replay diverged") ? what : fmt::format("replay diverged at instruction {}: {}", icount(), what);
    if (m_end_vm) m_end_vm(-1, m_engine_error);
}

Result<Event> Session::expect(EventType type, const char* what) {
    std::optional<Event> e = std::move(m_peeked);
    m_peeked.reset();
    if (!e) {
        auto n = m_reader->next();
        if (!n) return std::unexpected(n.error());
        e = std::move(*n);
    }
    if (!e) return diverged(fmt::format("{} after the end of the log", what));
    if (e->type != type)
        return diverged(fmt::format("the guest made {} where the log has {} (at instruction {})", what,
                                    type_name(e->type), e->icount));
    if (e->icount != icount() && type != EventType::End)
        return diverged(fmt::format("{} at instruction {} in the log", what, e->icount));
    return std::move(*e);
}

bool Session::random(void* out, size_t size) {
    if (!m_replay) {
        Event e = event(EventType::Random, icount());
        e.bytes.resize(size);
        e.delivered = getrandom(e.bytes.data(), size, GRND_NONBLOCK) == static_cast<ssize_t>(size);
        if (!e.delivered) std::fill(e.bytes.begin(), e.bytes.end(), 0);
        std::memcpy(out, e.bytes.data(), size);
        m_writer->write(e);
        return e.delivered;
    }
    auto e = expect(EventType::Random, "RDRAND/RDSEED");
    if (!e || e->bytes.size() != size) {
        fail_in_engine(e ? fmt::format("RDRAND of {} bytes where the log has {}", size, e->bytes.size()) : e.error().message);
        std::memset(out, 0, size);
        return false;
    }
    std::memcpy(out, e->bytes.data(), size);
    return e->delivered;
}

void Session::idle(uint64_t deadline_ns) {
    if (m_next_deadline) deadline_ns = std::min(deadline_ns, m_next_deadline());
    idle_until(deadline_ns);
    if (m_tick) m_tick();   // a timer outside the engine that came due wakes the vCPU
}

void Session::idle_until(uint64_t deadline_ns) {
    ++m_idles;
    auto skip_to_deadline = [this, deadline_ns] {
        const uint64_t now = now_ns();
        if (deadline_ns > now) m_skipped_ns += deadline_ns - now;
    };
    std::unique_lock lock(m_input_mutex);
    if (!m_replay) {
        for (;;) {
            bool fed = false;
            if (!m_input.empty() && m_input_target) {
                std::vector<uint8_t> bytes(m_input.begin(), m_input.begin() + static_cast<std::ptrdiff_t>(
                                                                  std::min<size_t>(m_input.size(), kMaxInput)));
                lock.unlock();
                const size_t took = std::min(m_input_target(bytes), bytes.size());
                lock.lock();
                if (took > 0) {
                    m_input.erase(m_input.begin(), m_input.begin() + static_cast<std::ptrdiff_t>(took));
                    bytes.resize(took);
                    Event e = event(EventType::Input, icount());
                    e.bytes = std::move(bytes);
                    e.idle = m_idles;
                    m_writer->write(e);
                    fed = true;
                }
            }
            if (!m_frames.empty()) {
                // Every frame that arrived since the last halt reaches its NIC at this one.
                std::deque<QueuedFrame> frames = std::move(m_frames);
                m_frames.clear();
                lock.unlock();
                for (QueuedFrame& f : frames) {
                    Event e = event(EventType::Frame, icount());
                    e.idle = m_idles;
                    e.nic = f.nic;
                    e.bytes = std::move(f.bytes);
                    m_frame_targets.at(f.nic)(e.bytes);
                    m_writer->write(e);
                }
                lock.lock();
                fed = true;
            }
            if (fed || m_stopping) return;
            // With a network, frames come at the host's pace: so does idle time (as while
            // someone may type), else the guest's timeouts would pass before any answer.
            const bool paced = m_input_open || !m_frame_targets.empty();
            if (deadline_ns != kNoDeadline) {
                // No one can type any more (the input ended): the clock jumps to the deadline
                // now. Else idle time passes at the host's pace (at most 1 s per halt) so that
                // typed input meets the guest where a user would; input or the end of the VM cut
                // it short.
                if (!paced) return skip_to_deadline();
                const uint64_t now = now_ns();
                const uint64_t wait_ns = deadline_ns > now ? std::min<uint64_t>(deadline_ns - now, 1'000'000'000) : 0;
                if (wait_ns && m_input_cv.wait_for(lock, std::chrono::nanoseconds(wait_ns), [this] {
                        return !m_input.empty() || !m_frames.empty() || m_stopping ||
                               (!m_input_open && m_frame_targets.empty());
                    })) {
                    if (m_stopping) return;
                    continue;   // fed at this halt
                }
                return skip_to_deadline();
            }
            // No timer will wake the guest: wait for the user's input (or the end of the VM).
            m_input_cv.wait_for(lock, std::chrono::milliseconds(50));
        }
    }
    lock.unlock();
    if (m_engine_error.empty()) {
        // Every input and frame the recording fed at this halt, in its order.
        bool fed = false;
        for (;;) {
            if (!m_peeked) {
                auto n = m_reader->next();
                if (!n) return fail_in_engine(n.error().message);
                m_peeked = std::move(*n);
            }
            if (!m_peeked || (m_peeked->type != EventType::Input && m_peeked->type != EventType::Frame) ||
                m_peeked->idle != m_idles)
                break;
            Event e = std::move(*m_peeked);
            m_peeked.reset();
            if (e.icount != icount()) return fail_in_engine(fmt::format("{} at instruction {} in the log", type_name(e.type), e.icount));
            if (e.type == EventType::Frame) {
                if (e.nic >= m_frame_targets.size())
                    return fail_in_engine(fmt::format("a network frame for NIC {}, which this VM does not have", e.nic));
                m_frame_targets[e.nic](e.bytes);
            } else {
                const size_t took = m_input_target ? m_input_target(e.bytes) : 0;
                if (took != e.bytes.size())
                    return fail_in_engine(fmt::format("the guest took {} of the {} logged input bytes", took, e.bytes.size()));
            }
            fed = true;
        }
        if (fed) return;
        if (m_peeked && m_peeked->type == EventType::End && m_peeked->icount == icount()) {
            // The recording ended here, with the guest waiting (e.g. Ctrl-A x at a shell prompt).
            // Under gdb the end is held: the vCPU stays halted and stops there (replaylog:end).
            if (m_end_vm && !m_end_vm(static_cast<int>(m_peeked->status), "the recording ended here")) return;
        } else if (deadline_ns != kNoDeadline) {
            return skip_to_deadline();
        } else {
            fail_in_engine("the guest waits for input that the log does not have");
        }
    }
    lock.lock();
    while (!m_stopping) m_input_cv.wait_for(lock, std::chrono::milliseconds(50));
}

void Session::wrote_ram(uint64_t gpa, uint64_t len) {
    // Before the vCPUs run (the board and back ends set up, the same in every run) and after
    // the VM ended, writes are nobody's input.
    if (len == 0 || !m_started) return;
    if (emu::t_determinism == this) {
        // The vCPU thread: inside an exit a back end serves the guest (its bytes may come from
        // the host: logged); outside one, timers and events at poll points write what follows
        // from the run itself (event bits, vcpu_info), the same in a replay.
        if (m_in_exit) m_ram_writes.push_back({gpa, len});
        return;
    }
    std::lock_guard lock(m_input_mutex);
    if (m_stopping || !m_async_write.empty()) return;
    m_async_write = fmt::format("a back end wrote {} bytes of guest RAM at {:#x} outside an exit of the vCPU, which "
                                "{} cannot log", len, gpa, m_replay ? "--replay" : "--record");
}

Result<void> Session::log_ram_writes() {
    if (m_ram_writes.empty()) return {};
    // The bytes are read after the exit, so the order of the writes does not matter: the ranges
    // are sorted and merged (a used index written once per request is logged once), and the
    // replay, whose stand-ins must have written the same ranges, does the same.
    std::vector<Range> ranges = std::move(m_ram_writes);
    m_ram_writes.clear();
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.gpa < b.gpa; });
    std::vector<Range> merged;
    for (const Range& r : ranges) {
        // A range outside guest RAM was not written (GuestMemory refuses it whole).
        if (r.gpa + r.len < r.gpa || !m_memory || !m_memory->contains(r.gpa, r.len)) continue;
        if (!merged.empty() && r.gpa <= merged.back().gpa + merged.back().len) {
            Range& m = merged.back();
            const uint64_t len = std::max(m.gpa + m.len, r.gpa + r.len) - m.gpa;
            // Two abutting RAM regions stay apart (a GuestMemory access is within one region).
            if (m_memory->contains(m.gpa, len)) {
                m.len = len;
                continue;
            }
        }
        merged.push_back(r);
    }
    for (const Range& r : merged) {
        for (uint64_t off = 0; off < r.len; off += kMaxDma) {
            const uint64_t gpa = r.gpa + off;
            const auto len = static_cast<size_t>(std::min<uint64_t>(kMaxDma, r.len - off));
            if (!m_replay) {
                Event e = event(EventType::Dma, icount());
                e.gpa = gpa;
                e.bytes.resize(len);
                TRY_VOID(m_memory->read(gpa, e.bytes));
                m_writer->write(e);
                continue;
            }
            Event want = TRY(expect(EventType::Dma, kind_name_dma));
            if (want.gpa != gpa || want.bytes.size() != len)
                return diverged(fmt::format("a back end wrote {} bytes of guest RAM at {:#x} where the log has {} bytes at {:#x}",
                                            len, gpa, want.bytes.size(), want.gpa));
            TRY_VOID(m_memory->write(gpa, want.bytes));
        }
    }
    return {};
}

Result<void> Session::before_dispatch(hv::Vcpu& vcpu, const hv::VcpuExit& exit) {
    if (!m_engine_error.empty()) return fail("{}", m_engine_error);
    {
        std::lock_guard lock(m_input_mutex);
        if (!m_async_write.empty()) return fail("{}", m_async_write);
    }
    m_ram_writes.clear();
    m_in_exit = true;
    Event e = event(EventType::Exit, icount());
    if (auto* in = std::get_if<hv::PioIn>(&exit)) {
        e.kind = ExitKind::PioIn;
        e.addr = in->port;
        e.size = static_cast<uint32_t>(in->data.size());
    } else if (auto* out = std::get_if<hv::PioOut>(&exit)) {
        e.kind = ExitKind::PioOut;
        e.addr = out->port;
        e.size = static_cast<uint32_t>(out->data.size());
    } else if (auto* rd = std::get_if<hv::MmioRead>(&exit)) {
        e.kind = ExitKind::MmioRead;
        e.addr = rd->gpa;
        e.size = static_cast<uint32_t>(rd->data.size());
    } else if (auto* wr = std::get_if<hv::MmioWrite>(&exit)) {
        e.kind = ExitKind::MmioWrite;
        e.addr = wr->gpa;
        e.size = static_cast<uint32_t>(wr->data.size());
    } else if (auto* hc = std::get_if<hv::Hypercall>(&exit)) {
        e.kind = ExitKind::Hypercall;
        e.addr = hc->nr;
    }
    auto state = vcpu.get_state();
    if (!state) return std::unexpected(state.error());
    e.rip = state->rip;
    e.checksum = register_checksum(*state);
    if (!m_replay) {
        m_writer->write(e);
        return {};
    }
    Event want = TRY(expect(EventType::Exit, kind_name(e.kind)));
    if (want.kind != e.kind || want.addr != e.addr || want.size != e.size || want.rip != e.rip)
        return diverged(fmt::format("{} of {} bytes at {:#x} (rip {:#x}) where the log has a {} of {} bytes at {:#x} (rip {:#x})",
                                    kind_name(e.kind), e.size, e.addr, e.rip, kind_name(want.kind), want.size, want.addr,
                                    want.rip));
    if (want.checksum != e.checksum)
        return diverged(fmt::format("the registers differ from the recording's at the {} at rip {:#x}", kind_name(e.kind), e.rip));
    return {};
}

Result<void> Session::after_dispatch(const hv::VcpuExit& exit) {
    m_in_exit = false;
    // A back end found the divergence during the exit (replay_share_answer): that is the error.
    if (!m_engine_error.empty()) return fail("{}", m_engine_error);
    std::span<uint8_t> data;
    if (auto* in = std::get_if<hv::PioIn>(&exit)) data = in->data;
    else if (auto* rd = std::get_if<hv::MmioRead>(&exit)) data = rd->data;
    else return log_ram_writes();
    if (data.size() > kMaxRead) return fail("a device read of {} bytes is more than a log holds", data.size());
    if (!m_replay) {
        Event e = event(EventType::Read, icount());
        e.bytes.assign(data.begin(), data.end());
        m_writer->write(e);
        return log_ram_writes();
    }
    // The devices answered too (their state moves as in the recording); the log's answer wins,
    // so clocks and host-dependent values read as they did.
    Event want = TRY(expect(EventType::Read, "a device read"));
    if (want.bytes.size() != data.size())
        return diverged(fmt::format("a device read of {} bytes where the log has {}", data.size(), want.bytes.size()));
    std::copy(want.bytes.begin(), want.bytes.end(), data.begin());
    return log_ram_writes();
}

void Session::log_share_answer(std::span<const uint8_t> answer, uint32_t gathered, uint32_t scattered) {
    if (m_replay) return;
    Event e = event(EventType::Share, icount());
    e.gathered = gathered;
    e.size = scattered;
    e.bytes.assign(answer.begin(), answer.end());
    m_writer->write(e);
}

std::optional<Event> Session::replay_share_answer() {
    if (!m_replay || !m_engine_error.empty()) return std::nullopt;
    auto e = expect(EventType::Share, "a request to the host directory (--share)");
    if (!e) {
        fail_in_engine(e.error().message);
        return std::nullopt;
    }
    return std::move(*e);
}

size_t Session::add_nic(FrameTarget target) {
    m_frame_targets.push_back(std::move(target));
    return m_frame_targets.size() - 1;
}

void Session::queue_frame(size_t nic, std::span<const uint8_t> frame) {
    if (m_replay || frame.empty() || frame.size() > kMaxFrame) return;
    std::lock_guard lock(m_input_mutex);
    // Bounded as a NIC's own queue is: a guest that never halts loses frames, as one that never
    // posts receive buffers does.
    constexpr size_t kMaxQueuedFrames = 1024;
    if (m_stopping || m_frames.size() >= kMaxQueuedFrames) return;
    m_frames.push_back({static_cast<uint8_t>(nic), std::vector<uint8_t>(frame.begin(), frame.end())});
    m_input_cv.notify_all();
}

size_t Session::queue_input(std::span<const uint8_t> bytes) {
    if (m_replay) return bytes.size();
    std::lock_guard lock(m_input_mutex);
    constexpr size_t kMaxQueued = 1 << 20;
    const size_t take = std::min(bytes.size(), kMaxQueued - std::min(kMaxQueued, m_input.size()));
    m_input.insert(m_input.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    m_input_cv.notify_all();
    return take;
}

std::span<const uint8_t> Session::note_serial(std::span<const uint8_t> bytes) {
    crypto_generichash_update(&m_serial_hash, bytes.data(), bytes.size());
    const uint64_t start = m_serial_bytes;
    m_serial_bytes += bytes.size();
    if (m_serial_bytes <= m_serial_shown) return {};
    const uint64_t skip = m_serial_shown > start ? m_serial_shown - start : 0;
    m_serial_shown = m_serial_bytes;
    return bytes.subspan(static_cast<size_t>(skip));
}

Session::State Session::save_state() const {
    State s;
    s.log_offset = m_reader ? m_reader->offset() : 0;
    s.log_ended = m_reader && m_reader->ended();
    s.peeked = m_peeked;
    s.skipped_ns = m_skipped_ns;
    s.last_ns = m_last_ns;
    s.idles = m_idles;
    s.serial_bytes = m_serial_bytes;
    s.serial_hash = m_serial_hash;
    return s;
}

void Session::restore_state(const State& s) {
    if (m_reader) m_reader->seek(s.log_offset, s.log_ended);
    m_peeked = s.peeked;
    m_skipped_ns = s.skipped_ns;
    m_last_ns = s.last_ns;
    m_idles = s.idles;
    m_serial_bytes = s.serial_bytes;
    m_serial_hash = s.serial_hash;
}

void Session::input_ended() {
    std::lock_guard lock(m_input_mutex);
    m_input_open = false;
    m_input_cv.notify_all();
}

void Session::stop() {
    std::lock_guard lock(m_input_mutex);
    m_stopping = true;
    m_input_cv.notify_all();
}

Result<std::string> Session::finish(int status, const memory::GuestMemory& mem) {
    Event end = event(EventType::End, icount());
    end.status = static_cast<uint32_t>(status);
    end.memory = m_memory_hasher.hash(mem);
    crypto_generichash_final(&m_serial_hash, end.serial.data(), end.serial.size());
    const std::string mem_hex = hex(end.memory);
    if (!m_replay) {
        m_writer->write(end);
        TRY_VOID(m_writer->finish());
        return mem_hex;
    }
    if (!m_engine_error.empty()) return fail("{}", m_engine_error);
    Event want = TRY(expect(EventType::End, "the end of the run"));
    if (want.icount != end.icount)
        return diverged(fmt::format("the run ended where the recording ended at instruction {}", want.icount));
    if (want.status != end.status) return diverged(fmt::format("exit status {} where the recording's was {}", status, want.status));
    if (want.serial != end.serial) return diverged("the serial output differs from the recording's");
    if (want.memory != end.memory) return diverged("guest memory at the end differs from the recording's");
    return mem_hex;
}

}  // namespace popek::replay
