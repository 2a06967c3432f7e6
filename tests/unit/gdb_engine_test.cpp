/// Host (gdb) breakpoints, single-steps and watchpoints enforced by the engine (emu/debug_hook.h,
/// gdb/vcpu_control.h) on interp and bt: the vCPU stops on its own thread at the right RIP, no
/// guest byte is patched, and resuming runs on.
#include <thread>

#include "bt_pair.h"
#include "gdb/vcpu_control.h"

namespace popek::gdb {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;
using emu::test::kCode;

class GdbEngine : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
    }
    /// Starts the vCPU on its own thread (run until HLT).
    void start() {
        m_thread = std::thread([this] { m_exit = h.run(); });
    }
    StopInfo next_stop() {
        auto s = control.take_stop(std::chrono::seconds(10));
        EXPECT_TRUE(s.has_value()) << "no stop within 10 s";
        return s.value_or(StopInfo{});
    }
    void finish() {
        if (m_thread.joinable()) m_thread.join();
        EXPECT_TRUE(emu::test::is_halt(m_exit));
    }
    void TearDown() override {
        control.detach();
        if (m_thread.joinable()) m_thread.join();
    }
    emu::test::EmuHarness h;
    VcpuControl control{h.cpu().shared(), false};
    std::thread m_thread;
    hv::VcpuExit m_exit = hv::Shutdown{};
};

TEST_P(GdbEngine, BreakpointStopsBeforeTheInstructionWithoutPatchingMemory) {
    size_t at = 0;
    h.load_code(emu::test::assemble_with_hlt([&](G& g) {
        g.mov(eax, 1);
        at = g.getSize();
        g.mov(ebx, 2);
        g.mov(ecx, 3);
    }));
    const auto before = h.read<uint64_t>(kCode + at);
    control.host_debug().breakpoints.push_back(kCode + at);
    h.cpu().update_debug();
    start();
    StopInfo s = next_stop();
    EXPECT_EQ(s.reason, emu::DebugHook::kBreakpoint);
    EXPECT_EQ(h.cpu().rip, kCode + at);
    EXPECT_EQ(h.cpu().gpr[hv::RAX], 1u);
    EXPECT_NE(h.cpu().gpr[hv::RBX], 2u) << "stopped before the instruction";
    EXPECT_EQ(h.read<uint64_t>(kCode + at), before) << "no INT3 written into guest memory";
    control.resume(0);   // one step over the breakpoint
    s = next_stop();
    EXPECT_EQ(s.reason, emu::DebugHook::kStep);
    EXPECT_EQ(h.cpu().gpr[hv::RBX], 2u);
    EXPECT_NE(h.cpu().gpr[hv::RCX], 3u) << "exactly one instruction";
    control.resume(-1);
    finish();
    EXPECT_EQ(h.cpu().gpr[hv::RCX], 3u);
}

TEST_P(GdbEngine, WriteWatchpointStopsAfterTheWrite) {
    constexpr uint64_t kVar = 0x60000;
    size_t after = 0;
    h.load_code(emu::test::assemble_with_hlt([&](G& g) {
        g.mov(rax, kVar);
        g.mov(ecx, dword[rax]);      // a read: no stop on a write watchpoint
        g.mov(dword[rax + 2], ecx);  // overlaps [kVar, kVar + 4)
        after = g.getSize();
        g.nop();
    }));
    control.host_debug().watches.push_back({kVar, 4, 2});
    h.cpu().update_debug();
    start();
    StopInfo s = next_stop();
    EXPECT_EQ(s.reason, emu::DebugHook::kWatch);
    EXPECT_EQ(s.watch_addr, kVar);
    EXPECT_EQ(h.cpu().rip, kCode + after);
    control.resume(-1);
    finish();
}

INSTANTIATE_TEST_SUITE_P(Engines, GdbEngine, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::gdb
