/// Instructions that cross a page boundary (emu/decode/block_cache.cpp span_pages): a block of its
/// own, kept while the second page maps where it did and neither page is written, on the
/// interpreter and on bt. A change of either page's bytes (by the VMM or the guest), a new
/// mapping of the second page (INVLPG of that page, MOV to CR3) must be seen, and the fetch of
/// the second page must still fault.
#include <gtest/gtest.h>

#include "emu_harness.h"

namespace popek::emu::test {
namespace {

constexpr uint64_t kPage = kPtBase + 0x3000;   // 4 KiB pages (identity), the next one too
constexpr uint64_t kAt = kPage + 0xffe;        // MOV EAX, imm32 (5 bytes): 2 here, 3 on the next page

class CrossingInsn : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
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
    /// Runs `code` placed at kCode (which ends by jumping to kAt) to the HLT; EAX as it ends.
    uint32_t run_from_code(const std::vector<uint8_t>& code) {
        h.load_code(code);
        h.cpu().gpr[hv::RSP] = kStackTop;
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

TEST_P(CrossingInsn, RunAgainItIsTheSameAndSeesChangesToEitherPage) {
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

TEST_P(CrossingInsn, SecondPageNotPresentFaultsOnTheFetchAfterItWasRemembered) {
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


TEST_P(CrossingInsn, ANewMappingOfTheSecondPageIsSeenAfterInvlpgOrMovToCr3) {
    constexpr uint64_t kOther = kPage + 0x5000;   // another frame for the second page
    h.write(kOther, {0x88, 0x77, 0x66, 0xf4});     // imm bytes 1 to 3, then HLT
    for (int i = 0; i < 2; ++i) EXPECT_EQ(run(), 0x44332211u);
    h.set_pte(kPage + 0x1000, kOther | 7);
    h.cpu().flush_tlb_page(kPage + 0x1000);   // INVLPG of the second page only
    EXPECT_EQ(run(), 0x66778811u) << "the second page's new frame";
    EXPECT_EQ(run(), 0x66778811u);
    h.set_pte(kPage + 0x1000, (kPage + 0x1000) | 7);
    h.cpu().write_cr3(h.cpu().cr3);   // MOV to CR3: a new address space
    EXPECT_EQ(run(), 0x44332211u) << "back on the old frame";
    EXPECT_EQ(run(), 0x44332211u);
    EXPECT_FALSE(h.reported());
}

TEST_P(CrossingInsn, AGuestStoreIntoTheSecondPageIsSeen) {
    for (int i = 0; i < 2; ++i) EXPECT_EQ(run(), 0x44332211u);
    // mov rdi, kPage + 0x1001; mov byte [rdi], 0x99; mov rax, kAt; jmp rax
    std::vector<uint8_t> code = {0x48, 0xbf};
    for (int i = 0; i < 8; ++i) code.push_back(static_cast<uint8_t>((kPage + 0x1001) >> (8 * i)));
    code.insert(code.end(), {0xc6, 0x07, 0x99, 0x48, 0xb8});
    for (int i = 0; i < 8; ++i) code.push_back(static_cast<uint8_t>(kAt >> (8 * i)));
    code.insert(code.end(), {0xff, 0xe0});
    EXPECT_EQ(run_from_code(code), 0x44992211u);
    EXPECT_EQ(run(), 0x44992211u);
    EXPECT_FALSE(h.reported());
}

TEST_P(CrossingInsn, AJumpChainedIntoItSeesTheSecondPagesNewFrameAndBytes) {
    // jmp kAt from the same page: on bt a chained jump into the spanning block, which enters
    // through its guard (emu/bt/block_emitter.cpp emit_span_guard).
    constexpr uint64_t kJmp = kPage + 0xff0, kOther = kPage + 0x5000;
    h.write(kJmp, {0xeb, 0x0c});   // jmp rel8 -> kPage + 0xffe
    h.write(kOther, {0x88, 0x77, 0x66, 0xf4});
    auto run_jmp = [&] {
        h.cpu().gpr[hv::RAX] = 0;
        h.cpu().rip = kJmp;
        EXPECT_TRUE(is_halt(h.run()));
        return static_cast<uint32_t>(h.cpu().gpr[hv::RAX]);
    };
    for (int i = 0; i < 3; ++i) EXPECT_EQ(run_jmp(), 0x44332211u) << "run " << i;
    h.set_pte(kPage + 0x1000, kOther | 7);
    h.cpu().flush_tlb_page(kPage + 0x1000);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(run_jmp(), 0x66778811u) << "remapped, run " << i;
    patch(kOther + 1, 0x55);   // the VMM writes the second page's new frame
    EXPECT_EQ(run_jmp(), 0x66558811u);
    h.poke<uint8_t>(kOther + 1, 0x44);   // and a guest store (through the code map) there
    h.cpu().shared().code.invalidate(kOther + 1);
    EXPECT_EQ(run_jmp(), 0x66448811u);
    EXPECT_FALSE(h.reported());
}

INSTANTIATE_TEST_SUITE_P(Engines, CrossingInsn, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "bt" : "interp"; });

}  // namespace
}  // namespace popek::emu::test
