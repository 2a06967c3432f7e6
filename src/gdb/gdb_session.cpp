#include "gdb/gdb_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "emu/cpu.h"
#include "gdb/registers.h"
#include "gdb/rsp_framing.h"

namespace popek::gdb {
namespace {

constexpr const char* kError = "E01";
constexpr const char* kBadAddress = "E14";   // EFAULT: unmapped or not guest RAM
constexpr size_t kMaxWatchLength = 1 << 20;
constexpr size_t kMaxBreakpoints = 4096;

/// "addr,len" (hex) with len capped by the packet size.
bool parse_addr_len(std::string_view s, uint64_t& addr, uint64_t& len) {
    const size_t comma = s.find(',');
    if (comma == std::string_view::npos) return false;
    auto a = parse_hex(s.substr(0, comma)), l = parse_hex(s.substr(comma + 1));
    if (!a || !l) return false;
    addr = *a;
    len = *l;
    return true;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::optional<uint64_t> parse_decimal(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

std::optional<int> GdbSession::parse_thread(std::string_view id) const {
    if (id == "-1" || id == "0") return -1;   // all / any
    auto v = parse_hex(id);
    if (!v || *v == 0 || *v > static_cast<uint64_t>(m_control.vcpu_count())) return std::nullopt;
    return static_cast<int>(*v) - 1;
}

std::string GdbSession::stop_reply(const StopInfo& stop) {
    m_last_stop = stop;
    m_thread = stop.cpu;
    std::string r = fmt::format("T{:02x}", stop.signal);
    if (stop.history_begin) {
        r += "replaylog:begin;";
    } else if (stop.history_end) {
        r += "replaylog:end;";   // E.3: the end of the replay log (gdb: "No more reverse-execution history")
    } else if (stop.reason == emu::DebugHook::kWatch) {
        const char* what = stop.watch_kind == 3 ? "rwatch" : stop.watch_kind == 4 ? "awatch" : "watch";
        r += fmt::format("{}:{:x};", what, stop.watch_addr);
    } else if (stop.reason == emu::DebugHook::kBreakpoint) {
        r += "hwbreak:;";
    }
    r += fmt::format("thread:{:x};", stop.cpu + 1);
    return r;
}

std::optional<std::string> GdbSession::handle(const std::string& p) {
    if (p.empty()) return std::string();
    const std::string_view args = std::string_view(p).substr(1);
    switch (p[0]) {
        case '?': return m_last_stop ? stop_reply(*m_last_stop) : stop_reply(StopInfo{m_thread, 5});
        case 'g': return read_registers();
        case 'G': return write_registers(args);
        case 'p': return read_one_register(args);
        case 'P': return write_one_register(args);
        case 'm': return read_memory(args);
        case 'M': return write_memory(args, false);
        case 'X': return write_memory(args, true);
        case 'c': case 's': case 'C': case 'S': return resume(p);
        case 'b':
            if (p == "bs" || p == "bc") return reverse(p == "bs");
            return std::string();
        case 'v':
            if (starts_with(p, "vCont?")) return std::string("vCont;c;C;s;S");
            if (starts_with(p, "vCont;")) return resume(p);
            return std::string();   // vMustReplyEmpty, vKill, vRun...: not supported
        case 'Z': return breakpoint(args, true);
        case 'z': return breakpoint(args, false);
        case 'H': return select_thread(args);
        case 'T': return thread_alive(args);
        case 'q': case 'Q': return query(p);
        case 'D':
            m_closing = true;
            return std::string("OK");
        case 'k':
            m_closing = m_kill = true;
            return std::nullopt;   // no reply to k (E.2)
        default: return std::string();   // unsupported: the empty reply
    }
}

std::string GdbSession::read_registers() {
    const emu::Cpu* c = m_control.cpu(m_thread);
    if (!c) return kError;
    std::string bytes;
    for (int n = 0; n < register_count(); ++n) read_register(*c, n, bytes);
    return to_hex(bytes);
}

std::string GdbSession::write_registers(std::string_view hex) {
    emu::Cpu* c = m_control.cpu(m_thread);
    std::string bytes;
    if (!c || !from_hex(hex, bytes)) return kError;
    size_t at = 0;
    for (int n = 0; n < register_count() && at < bytes.size(); ++n) {
        const unsigned size = register_size(n);
        if (at + size > bytes.size()) return kError;
        if (!write_register(*c, n, std::string_view(bytes).substr(at, size))) return kError;
        at += size;
    }
    return "OK";
}

std::string GdbSession::read_one_register(std::string_view args) {
    const emu::Cpu* c = m_control.cpu(m_thread);
    auto n = parse_hex(args);
    std::string bytes;
    if (!c || !n || *n > 1000 || !read_register(*c, static_cast<int>(*n), bytes)) return kError;
    return to_hex(bytes);
}

std::string GdbSession::write_one_register(std::string_view args) {
    emu::Cpu* c = m_control.cpu(m_thread);
    const size_t eq = args.find('=');
    if (!c || eq == std::string_view::npos) return kError;
    auto n = parse_hex(args.substr(0, eq));
    std::string bytes;
    if (!n || *n > 1000 || !from_hex(args.substr(eq + 1), bytes)) return kError;
    return write_register(*c, static_cast<int>(*n), bytes) ? "OK" : kError;
}

std::string GdbSession::read_memory(std::string_view args) {
    uint64_t addr, len;
    if (!parse_addr_len(args, addr, len)) return kError;
    len = std::min<uint64_t>(len, kMaxPacket / 2);   // the reply is hex: two characters a byte
    std::vector<uint8_t> buf(len);
    const size_t done = m_control.read_memory(m_thread, addr, buf.data(), len);
    if (done == 0 && len != 0) return kBadAddress;
    return to_hex(std::span(buf.data(), done));
}

std::string GdbSession::write_memory(std::string_view args, bool binary) {
    const size_t colon = args.find(':');
    uint64_t addr, len;
    if (colon == std::string_view::npos || !parse_addr_len(args.substr(0, colon), addr, len)) return kError;
    std::string data;
    if (binary) data = std::string(args.substr(colon + 1));   // already unescaped by the decoder
    else if (!from_hex(args.substr(colon + 1), data)) return kError;
    if (data.size() != len) return kError;
    if (len == 0) return "OK";
    const size_t done = m_control.write_memory(m_thread, addr, reinterpret_cast<const uint8_t*>(data.data()), len);
    return done == len ? "OK" : kBadAddress;
}

std::optional<std::string> GdbSession::resume(std::string_view p) {
    int step = -1;
    if (p[0] == 's' || p[0] == 'S') {
        step = m_step_thread >= 0 ? m_step_thread : m_thread;
    } else if (p[0] == 'v') {
        // vCont;action[:thread];...: the first step action names the vCPU to step (E.2 vCont).
        std::string_view rest = p.substr(6);
        while (!rest.empty()) {
            const size_t semi = rest.find(';');
            std::string_view action = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            if (action.empty()) return std::string(kError);
            const char kind = action[0];
            if (kind != 'c' && kind != 'C' && kind != 's' && kind != 'S') return std::string(kError);
            if ((kind == 's' || kind == 'S') && step < 0) {
                const size_t colon = action.find(':');
                if (colon == std::string_view::npos) {
                    step = m_thread;
                } else {
                    auto t = parse_thread(action.substr(colon + 1));
                    if (!t) return std::string(kError);
                    step = *t < 0 ? m_thread : *t;
                }
            }
        }
    }
    // A resume address (c ADDR / s ADDR) is not supported: gdb does not send it.
    m_control.resume(step);
    return std::nullopt;
}

bool GdbSession::restore(uint64_t count) {
    if (!m_control.history()->restore(count)) return false;
    m_control.left_end();
    return true;
}

std::optional<StopInfo> GdbSession::seek(int cpu, uint64_t count, uint64_t lip) {
    ReplayHistory* h = m_control.history();
    auto from = h->snapshot_at_or_before(count);
    if (!from || !restore(*from)) return std::nullopt;
    return m_control.run_to(cpu, count, nullptr, lip);
}

std::string GdbSession::reverse(bool step) {
    // E.2 `bs`, `bc`: only a replay can go back (qSupported offers ReverseStep+/ReverseContinue+
    // there); anywhere else, or when the history cannot be rebuilt, an error.
    ReplayHistory* h = m_control.history();
    emu::Cpu* c = m_control.cpu(m_thread);
    if (!h || !c || !m_control.is_stopped()) return kError;
    const uint64_t now = c->stats().instructions;
    auto at_begin = [&] {
        StopInfo s{m_thread, 5};
        s.history_begin = true;
        return stop_reply(s);
    };
    const auto first = h->snapshot_at_or_before(0);
    if (!first || now <= *first) return at_begin();
    if (step) {
        auto s = seek(m_thread, now - 1);
        if (!s) return "E05";
        s->reason = emu::DebugHook::kStep;
        return stop_reply(*s);
    }
    // Back through the snapshots, newest first: re-execute [snapshot, end) noting every hit; the
    // last one before `now` wins. None back to the first snapshot: the start of the replay.
    uint64_t end = now;
    for (;;) {
        auto from = h->snapshot_at_or_before(end - 1);
        if (!from) break;
        std::vector<Hit> hits;
        if (!restore(*from)) return "E05";
        if (!m_control.run_to(m_thread, end, &hits)) return "E05";
        if (auto hit = last_hit_before(hits, now)) {
            auto s = seek(m_thread, reverse_target(*hit), hit->lip);
            if (!s) return "E05";
            s->reason = static_cast<emu::DebugHook::Reason>(hit->reason);
            s->watch_addr = hit->watch_addr;
            s->watch_kind = hit->watch_kind;
            return stop_reply(*s);
        }
        if (*from <= *first || *from >= end) break;
        end = *from;
    }
    auto s = seek(m_thread, *first);
    if (!s) return "E05";
    return at_begin();
}

std::string GdbSession::breakpoint(std::string_view args, bool insert) {
    // type,addr,kind (E.2 z/Z packets).
    if (args.size() < 2 || args[1] != ',') return kError;
    const char type = args[0];
    uint64_t addr, len;
    std::string_view rest = args.substr(2);
    if (const size_t semi = rest.find(';'); semi != std::string_view::npos) rest = rest.substr(0, semi);
    if (!parse_addr_len(rest, addr, len)) return kError;
    emu::HostDebug& hd = m_control.host_debug();
    if (type == '0' || type == '1') {
        auto it = std::find(hd.breakpoints.begin(), hd.breakpoints.end(), addr);
        if (insert) {
            if (it == hd.breakpoints.end()) {
                if (hd.breakpoints.size() >= kMaxBreakpoints) return kError;
                hd.breakpoints.push_back(addr);
            }
        } else if (it != hd.breakpoints.end()) {
            hd.breakpoints.erase(it);
        }
        return "OK";
    }
    if (type >= '2' && type <= '4') {
        const auto kind = static_cast<uint8_t>(type - '0');
        if (len == 0 || len > kMaxWatchLength || addr + len < addr) return kError;
        auto same = [&](const emu::HostDebug::Watch& w) { return w.addr == addr && w.len == len && w.kind == kind; };
        auto it = std::find_if(hd.watches.begin(), hd.watches.end(), same);
        if (insert) {
            if (it != hd.watches.end()) return "OK";
            if (hd.watches.size() >= 16) return kError;   // emu::Cpu::kMaxWatches - 4 guest ones
            hd.watches.push_back({addr, len, kind});
        } else if (it != hd.watches.end()) {
            hd.watches.erase(it);
        }
        return "OK";
    }
    return std::string();
}

std::string GdbSession::select_thread(std::string_view args) {
    if (args.empty()) return kError;
    auto t = parse_thread(args.substr(1));
    if (!t) return kError;
    if (args[0] == 'g') {
        if (*t >= 0) m_thread = *t;
    } else if (args[0] == 'c') {
        m_step_thread = *t;
    } else {
        return kError;
    }
    return "OK";
}

std::string GdbSession::thread_alive(std::string_view args) {
    auto t = parse_thread(args);
    return t && *t >= 0 && m_control.cpu(*t) ? "OK" : kError;
}

std::string GdbSession::query(const std::string& p) {
    if (starts_with(p, "qSupported"))
        return fmt::format("PacketSize={:x};qXfer:features:read+;vContSupported+;swbreak-;hwbreak+{}", kMaxPacket,
                           m_control.history() ? ";ReverseStep+;ReverseContinue+" : "");
    if (p == "qfThreadInfo") {
        std::string r = "m";
        for (int i = 0; i < m_control.vcpu_count(); ++i) r += fmt::format("{}{:x}", i ? "," : "", i + 1);
        return r;
    }
    if (p == "qsThreadInfo") return "l";
    if (p == "qC") return fmt::format("QC{:x}", m_thread + 1);
    if (p == "qAttached") return "1";
    if (starts_with(p, "qThreadExtraInfo,")) {
        auto t = parse_thread(std::string_view(p).substr(17));
        if (!t || *t < 0) return kError;
        return to_hex(fmt::format("vCPU {}", *t));
    }
    if (starts_with(p, "qRcmd,")) return monitor(std::string_view(p).substr(6));
    if (starts_with(p, "qXfer:features:read:target.xml:")) {
        uint64_t off, len;
        if (!parse_addr_len(std::string_view(p).substr(31), off, len)) return kError;
        const std::string& xml = target_xml();
        if (off >= xml.size()) return "l";
        len = std::min<uint64_t>(len, kMaxPacket - 8);
        const std::string chunk = xml.substr(off, len);
        return (off + chunk.size() >= xml.size() ? "l" : "m") + chunk;
    }
    if (starts_with(p, "qXfer:features:read:")) return "E00";
    return std::string();
}

std::string GdbSession::monitor(std::string_view hex_command) {
    std::string cmd;
    if (!from_hex(hex_command, cmd)) return kError;
    std::string out;
    if (cmd == "stats") {
        for (int i = 0; i < m_control.vcpu_count(); ++i) {
            const emu::Cpu* c = m_control.cpu(i);
            if (!c) continue;
            const hv::VcpuStats s = c->stats();
            out += fmt::format("vCPU {}: {} instructions ({} interpreted under bt), rip {:#x}, cpl {}\n", i,
                               s.instructions, c->interpreted(), c->rip, c->cpl);
        }
        const emu::HostDebug& hd = m_control.host_debug();
        out += fmt::format("breakpoints {}, watchpoints {}\n", hd.breakpoints.size(), hd.watches.size());
    } else if (cmd == "history") {
        out = m_control.history() ? m_control.history()->describe()
                                  : "no reverse execution: it needs a replay (popek run --replay FILE --gdb ...)\n";
    } else if (starts_with(cmd, "stop-at")) {
        // A forward stop at an instruction count (Cpu::stop_at, as a seek uses, but without a
        // restore): the next continue runs the replay forward and stops there.
        auto n = parse_decimal(std::string_view(cmd).substr(7));
        emu::Cpu* c = m_control.cpu(m_thread);
        if (!m_control.history() || !c) out = "stop-at: only on a replay (popek run --replay FILE --gdb ...)\n";
        else if (!n || *n <= c->stats().instructions) out = "stop-at: give an instruction count ahead of the current one (monitor stats)\n";
        else {
            c->stop_at = *n;
            c->stop_lip = emu::Cpu::kNever;
            out = fmt::format("vCPU {} stops at instruction {} (continue)\n", m_thread, *n);
        }
    } else if (cmd == "help" || cmd.empty()) {
        out = "popek monitor commands: stats (per-vCPU instruction counts), history (reverse execution's snapshots), "
              "stop-at N (a replay: the next continue stops at instruction count N), help\n";
    } else {
        out = fmt::format("unknown monitor command '{}' (try: monitor help)\n", cmd.substr(0, 64));
    }
    return to_hex(out);
}

}  // namespace popek::gdb
