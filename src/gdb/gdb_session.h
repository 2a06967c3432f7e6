#pragma once
/// The packets of one gdb connection (GDB manual, Appendix E.2 "Packets", E.4 "General Query
/// Packets"): registers, memory, resume, breakpoints and watchpoints, threads (one per vCPU,
/// thread id = vCPU index + 1), the target description and `monitor` commands.
#include <optional>
#include <string>

#include "gdb/vcpu_control.h"

namespace popek::gdb {

class GdbSession {
public:
    explicit GdbSession(VcpuControl& control) : m_control(control) {}
    /// The reply to `packet`; nullopt when the target was resumed (the reply is the next stop).
    std::optional<std::string> handle(const std::string& packet);
    /// The stop reply for `stop` (T packet with thread:, and watch:/rwatch:/awatch:), which
    /// also selects the stopped vCPU for the next register accesses.
    std::string stop_reply(const StopInfo& stop);
    /// The client asked to detach (D) or kill (k): the connection ends after the reply.
    bool closing() const { return m_closing; }
    bool kill_requested() const { return m_kill; }

private:
    std::string read_registers();
    std::string write_registers(std::string_view hex);
    std::string read_one_register(std::string_view args);
    std::string write_one_register(std::string_view args);
    std::string read_memory(std::string_view args);
    std::string write_memory(std::string_view args, bool binary);
    std::optional<std::string> resume(std::string_view packet);
    /// `bs` / `bc` (gdb/reverse.h): a stop reply, or an error outside a replay.
    std::string reverse(bool step);
    /// Restores the snapshot at `count` (the vCPU then no longer stands at the replay's end).
    bool restore(uint64_t count);
    /// Goes back to instruction count `count` of vCPU `cpu` (restore, re-execute).
    std::optional<StopInfo> seek(int cpu, uint64_t count, uint64_t lip = ~uint64_t{0});
    std::string breakpoint(std::string_view args, bool insert);
    std::string query(const std::string& packet);
    std::string monitor(std::string_view hex_command);
    std::string thread_alive(std::string_view args);
    std::string select_thread(std::string_view args);
    std::optional<int> parse_thread(std::string_view id) const;

    VcpuControl& m_control;
    int m_thread = 0;   ///< vCPU for g/G/p/P/m/M (Hg)
    int m_step_thread = -1;   ///< vCPU for s/c without vCont (Hc); -1: the selected one
    std::optional<StopInfo> m_last_stop;
    bool m_closing = false;
    bool m_kill = false;
};

}  // namespace popek::gdb
