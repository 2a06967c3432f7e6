/// Exits of the own engine to the VMM: port and MMIO accesses complete with the VMM's data on
/// the next run (hv seam contract), and guest-chosen addresses never reach host memory.
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

TEST(EmuExit, PortOutThenInCompletesWithVmmData) {
    EmuHarness h;
    h.setup_long_mode();
    // mov $0x3f8,%dx; mov $0x41,%al; out %al,%dx; in %dx,%al; hlt
    h.load_code({0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xec, 0xf4});
    auto e1 = h.run();
    auto* out = std::get_if<hv::PioOut>(&e1);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->port, 0x3f8);
    ASSERT_EQ(out->data.size(), 1u);
    EXPECT_EQ(out->data[0], 0x41);
    auto e2 = h.run();
    auto* in = std::get_if<hv::PioIn>(&e2);
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(in->port, 0x3f8);
    in->data[0] = 0x5a;
    h.cpu().complete_io();
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(h.cpu().gpr[hv::RAX] & 0xff, 0x5au);
}

TEST(EmuExit, MmioWriteAndReadOutsideRam) {
    EmuHarness h;
    h.setup_long_mode();
    // Map linear 0x201000 to gpa 0xd0000000 (beyond the 4 MiB of RAM).
    h.set_pte(kPtBase + 0x1000, 0xd0000000ULL | 3);
    // mov $0x201000,%rdi; movl $0xabcd,(%rdi); mov (%rdi),%ebx; hlt
    h.load_code({0x48, 0xc7, 0xc7, 0x00, 0x10, 0x20, 0x00, 0xc7, 0x07, 0xcd, 0xab, 0x00, 0x00, 0x8b, 0x1f, 0xf4});
    auto e1 = h.run();
    auto* wr = std::get_if<hv::MmioWrite>(&e1);
    ASSERT_NE(wr, nullptr);
    EXPECT_EQ(wr->gpa, 0xd0000000u);
    ASSERT_EQ(wr->data.size(), 4u);
    EXPECT_EQ(wr->data[0], 0xcd);
    auto e2 = h.run();
    auto* rd = std::get_if<hv::MmioRead>(&e2);
    ASSERT_NE(rd, nullptr);
    ASSERT_EQ(rd->data.size(), 4u);
    rd->data[0] = 0x78; rd->data[1] = 0x56; rd->data[2] = 0x34; rd->data[3] = 0x12;
    h.cpu().complete_io();
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(h.cpu().gpr[hv::RBX], 0x12345678u);
}

TEST(EmuExit, ExecutingOutsideRamIsAnInternalError) {
    EmuHarness h;
    h.setup_long_mode();
    h.set_pte(kPtBase + 0x1000, 0xd0000000ULL | 3);
    h.load_code({0x48, 0xc7, 0xc0, 0x00, 0x10, 0x20, 0x00, 0xff, 0xe0});   // jmp to the MMIO page
    auto e = h.run();
    EXPECT_TRUE(std::holds_alternative<hv::InternalError>(e));
}

TEST(EmuExit, StopRequestEndsAnEndlessLoop) {
    EmuHarness h;
    h.setup_long_mode();
    h.load_code({0xeb, 0xfe});   // jmp .
    h.cpu().request_stop();
    auto e = h.run();
    auto* sd = std::get_if<hv::Shutdown>(&e);
    ASSERT_NE(sd, nullptr);
    EXPECT_EQ(sd->reason, hv::Shutdown::Stopped);
}

}  // namespace
}  // namespace popek::emu::test
