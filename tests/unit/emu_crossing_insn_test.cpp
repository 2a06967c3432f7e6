/// Instructions that cross a page boundary (emu/decode/block_cache.cpp decode_crossing): run again,
/// they are compared with the bytes they were decoded from rather than decoded again. A change of
/// either page's bytes must still be seen, and the fetch of the second page must still fault.
#include <gtest/gtest.h>

#include "emu_harness.h"

namespace popek::emu::test {
namespace {

constexpr uint64_t kPage = kPtBase + 0x3000;   // 4 KiB pages (identity), the next one too
constexpr uint64_t kAt = kPage + 0xffe;        // MOV EAX, imm32 (5 bytes): 2 here, 3 on the next page

class CrossingInsn : public ::testing::Test {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.set_gate(kPfv, kHandlerErr);
        h.write(kAt, {0xb8, 0x11, 0x22, 0x33, 0x44, 0xf4});   // mov eax, 0x44332211; hlt
    }
    /// Runs from kAt to the HLT (or the fault handler's); EAX as it ends.
    uint32_t run() {
        h.poke<uint64_t>(kReport + 0x18, 0);
        h.cpu().gpr[hv::RAX] = 0;
        h.cpu().gpr[hv::RSP] = kStackTop;
        h.cpu().rip = kAt;
        EXPECT_TRUE(is_halt(h.run()));
        return static_cast<uint32_t>(h.cpu().gpr[hv::RAX]);
    }
    /// A VMM write into guest code, announced as a device model's would be.
    void patch(uint64_t gpa, uint8_t v) {
        h.poke<uint8_t>(gpa, v);
        h.cpu().shared().dma_epoch.fetch_add(1);
    }
    EmuHarness h;
};

TEST_F(CrossingInsn, RunAgainItIsTheSameAndSeesChangesToEitherPage) {
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run(), 0x44332211u) << "run " << i;
    patch(kPage + 0x1001, 0x99);   // the second page
    EXPECT_EQ(run(), 0x44992211u);
    EXPECT_EQ(run(), 0x44992211u);
    patch(kPage + 0xfff, 0x77);    // the first page
    EXPECT_EQ(run(), 0x44992277u);
    // Another opcode of another length: MOV AX, imm16 (66 B8 iw: 4 bytes, still crossing).
    patch(kAt, 0x66);
    patch(kAt + 1, 0xb8);
    patch(kAt + 4, 0xf4);
    h.cpu().gpr[hv::RAX] = 0;
    EXPECT_EQ(run() & 0xffffu, 0x9922u);
    EXPECT_FALSE(h.reported());
}

TEST_F(CrossingInsn, SecondPageNotPresentFaultsOnTheFetchAfterItWasRemembered) {
    EXPECT_EQ(run(), 0x44332211u);
    EXPECT_EQ(run(), 0x44332211u);
    h.set_pte(kPage + 0x1000, 0);
    h.cpu().flush_tlb();
    for (int i = 0; i < 2; ++i) {
        run();
        ASSERT_TRUE(h.reported()) << "run " << i;
        EXPECT_EQ(h.reported_cr2(), kPage + 0x1000);
        EXPECT_EQ(h.reported_rip(), kAt);
        EXPECT_EQ(h.reported_error(), 0x10u) << "an instruction fetch, not present, CPL 0";
    }
}

}  // namespace
}  // namespace popek::emu::test
