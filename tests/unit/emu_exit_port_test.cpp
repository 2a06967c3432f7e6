/// The own engine's exit port (emu/exit_port.h) on its own: posted exits, the hypercall whose
/// result comes back for RAX, and the I/O log's order, replay and bounds. The CPU's use of it
/// (MMIO/port replay through whole instructions) is tested in emu_mmio_replay_test.cpp.
#include <gtest/gtest.h>

#include "emu/exit_port.h"

namespace popek::emu {
namespace {

TEST(EmuExitPort, APostedExitIsTakenOnce) {
    ExitPort p;
    EXPECT_FALSE(p.take_posted());
    p.post(hv::Shutdown{hv::Shutdown::Stopped});
    EXPECT_TRUE(p.posted());
    EXPECT_TRUE(p.take_posted());
    EXPECT_FALSE(p.take_posted());
    EXPECT_TRUE(std::holds_alternative<hv::Shutdown>(p.exit()));
    p.post(hv::Halt{});
    p.cancel_posted();
    EXPECT_FALSE(p.posted());
}

TEST(EmuExitPort, AHypercallsResultComesBackOnResumeOnly) {
    ExitPort p;
    p.post_hypercall(hv::Hypercall{3, {}, nullptr});
    const auto* call = std::get_if<hv::Hypercall>(&p.exit());
    ASSERT_NE(call, nullptr);
    ASSERT_NE(call->result, nullptr) << "the port provides the result's home";
    *call->result = 0x1234;
    EXPECT_EQ(p.resume(), std::optional<uint64_t>{0x1234});
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(p.exit()));
    EXPECT_EQ(p.resume(), std::nullopt) << "a resume after another exit has no result for RAX";
    p.set(hv::PioOut{1, 1, {}});
    EXPECT_EQ(p.resume(), std::nullopt);
}

TEST(EmuExitPort, WritesQueueAndAReadHandsOutTheOldestFirst) {
    ExitPort p;
    const uint32_t w1 = 0x11, w2 = 0x22;
    EXPECT_EQ(p.log(IoAccess::PioOut, 0x80, &w1, 1), ExitPort::Logged::Write);
    EXPECT_TRUE(p.replaying());
    EXPECT_EQ(p.log(IoAccess::MmioWrite, 0xf000, &w2, 4), ExitPort::Logged::Write);
    EXPECT_EQ(p.log(IoAccess::MmioRead, 0xf004, nullptr, 2), ExitPort::Logged::Read);
    auto* out = std::get_if<hv::PioOut>(&p.exit());
    ASSERT_NE(out, nullptr) << "the oldest queued write goes first";
    EXPECT_EQ(out->data[0], 0x11);
    ASSERT_TRUE(p.hand_out());
    ASSERT_TRUE(std::holds_alternative<hv::MmioWrite>(p.exit()));
    ASSERT_TRUE(p.hand_out());
    auto* rd = std::get_if<hv::MmioRead>(&p.exit());
    ASSERT_NE(rd, nullptr);
    EXPECT_EQ(rd->gpa, 0xf004u);
    rd->data[0] = 0xab;   // the VMM's answer
    rd->data[1] = 0xcd;
    EXPECT_FALSE(p.hand_out()) << "everything was handed out";
    // The instruction runs again and consumes the log: writes are not repeated, the read gets
    // the answer, the instruction completes and nothing is left to hand out.
    p.rewind();
    EXPECT_TRUE(p.replayed(IoAccess::PioOut, 0x80, nullptr, 1));
    EXPECT_TRUE(p.replayed(IoAccess::MmioWrite, 0xf000, nullptr, 4));
    uint16_t v = 0;
    EXPECT_TRUE(p.replayed(IoAccess::MmioRead, 0xf004, &v, 2));
    EXPECT_EQ(v, 0xcdab);
    EXPECT_FALSE(p.retire());
    EXPECT_FALSE(p.replaying());
}

TEST(EmuExitPort, ADifferentPathForgetsTheRestOfTheLog) {
    ExitPort p;
    const uint8_t w = 1;
    (void)p.log(IoAccess::MmioWrite, 0x1000, &w, 1);
    (void)p.log(IoAccess::MmioRead, 0x2000, nullptr, 1);
    p.rewind();
    EXPECT_FALSE(p.replayed(IoAccess::MmioWrite, 0x3000, nullptr, 1)) << "another address: not this access";
    EXPECT_EQ(p.logged(), 0u);
}

TEST(EmuExitPort, TheLogIsBounded) {
    ExitPort p;
    const uint8_t w = 0;
    for (unsigned i = 0; i < kIoLogSize; ++i) ASSERT_EQ(p.log(IoAccess::PioOut, i, &w, 1), ExitPort::Logged::Write);
    EXPECT_EQ(p.log(IoAccess::PioOut, 0, &w, 1), ExitPort::Logged::Full);
    ExitPort q;
    uint8_t big[32]{};
    EXPECT_EQ(q.log(IoAccess::MmioWrite, 0, big, sizeof(big)), ExitPort::Logged::Full) << "larger than an entry";
}

TEST(EmuExitPort, RetireHandsOutWhatTheCompletedInstructionQueued) {
    ExitPort p;
    const uint8_t w = 7;
    (void)p.log(IoAccess::PioOut, 0x70, &w, 1);
    (void)p.log(IoAccess::PioOut, 0x71, &w, 1);
    EXPECT_TRUE(p.retire());
    EXPECT_TRUE(p.retired());
    EXPECT_EQ(std::get<hv::PioOut>(p.exit()).port, 0x70);
    EXPECT_TRUE(p.retire());
    EXPECT_EQ(std::get<hv::PioOut>(p.exit()).port, 0x71);
    EXPECT_FALSE(p.retire());
    EXPECT_FALSE(p.replaying());
}

}  // namespace
}  // namespace popek::emu
