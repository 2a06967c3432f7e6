/// Legacy 16/32-bit instructions (kvm-unit-tests realmode): DAA DAS AAA AAS AAM AAD SALC BOUND
/// LDS LES LSS LFS LGS (SDM Vol. 2A), and #UD for the ones 64-bit mode does not have. Interp and
/// bt alike.
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kVectorSlot = 0x7000;      ///< the 32-bit handlers store their vector here
constexpr uint64_t kHandlers32 = 0xc000;      ///< 16 bytes per vector: movl $v, kVectorSlot; hlt
constexpr uint64_t kOperand = 0x20000;

class EmuLegacy : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_protected32();
        h.use_translator(GetParam());
        for (uint64_t v = 0; v < 32; ++v) {
            const uint64_t stub = kHandlers32 + v * 16;
            h.write(stub, {0xc7, 0x05, static_cast<uint8_t>(kVectorSlot), static_cast<uint8_t>(kVectorSlot >> 8), 0, 0,
                           static_cast<uint8_t>(v), 0, 0, 0, 0xf4});
            // 32-bit interrupt gate (SDM Vol. 3A 6.11): offset, CS, P=1 DPL=0 type 0xe.
            h.poke<uint64_t>(kIdt + v * 8, (stub & 0xffff) | (uint64_t{kCode32} << 16) | (0x8eULL << 40) |
                                               ((stub >> 16) << 48));
        }
        h.poke<uint32_t>(kVectorSlot, 0xffffffff);
    }
    /// Runs `code` (then HLT) with EAX and the arithmetic flags given; returns the vector of the
    /// exception taken, or -1.
    int run(Bytes code, uint32_t eax, uint64_t flags = 0) {
        code.push_back(0xf4);
        h.load_code(code);
        h.cpu().shared().dma_epoch.fetch_add(1);   // a VMM write: the engine re-verifies its blocks
        h.cpu().gpr[hv::RAX] = eax;
        h.cpu().rflags = 2 | flags;
        h.poke<uint32_t>(kVectorSlot, 0xffffffff);
        EXPECT_TRUE(is_halt(h.run()));
        return static_cast<int>(h.read<int32_t>(kVectorSlot));
    }
    uint32_t eax() { return static_cast<uint32_t>(h.cpu().gpr[hv::RAX]); }
    uint64_t arith() { return h.cpu().rflags & kArithFlags; }
    EmuHarness h;
};

TEST_P(EmuLegacy, DaaAndDasFollowTheSdmExamples) {
    // SDM Vol. 2A DAA: 79h + 35h = AEh, DAA: 14h with CF. DAS: 35h - 47h = EEh (CF), DAS: 88h CF.
    EXPECT_EQ(run({0x27}, 0xae), -1);
    EXPECT_EQ(eax(), 0x14u);
    EXPECT_EQ(arith(), kCf | kAf | kPf);
    EXPECT_EQ(run({0x2f}, 0xee, kCf), -1);
    EXPECT_EQ(eax(), 0x88u);
    EXPECT_EQ(arith(), kCf | kAf | kSf | kPf);
    EXPECT_EQ(run({0x27}, 0x9a), -1);   // both adjustments, result 0
    EXPECT_EQ(eax(), 0x00u);
    EXPECT_EQ(arith(), kCf | kAf | kZf | kPf);
}

TEST_P(EmuLegacy, DasMatchesKvmUnitTestsTable) {
    // Entries of kvm-unit-tests realmode's test_das: flags_out:8 flags_in:8 al_out:8 al_in:8.
    for (uint32_t t : {0x46000000u, 0x8701a000u, 0x9710fa00u, 0x97119a00u, 0x02000101u, 0x9310fb01u, 0x56100006u,
                       0x12100107u, 0x1200040au, 0x9311a40au, 0x02001010u, 0x9711aa10u, 0x830098f8u, 0x931192f8u,
                       0x970099ffu, 0x971199ffu}) {
        SCOPED_TRACE(t);
        EXPECT_EQ(run({0x2f}, t & 0xff, (t >> 16) & 0xff), -1);
        EXPECT_EQ(eax(), (t >> 8) & 0xff);
        EXPECT_EQ(h.cpu().rflags & 0xff, t >> 24);
    }
}

TEST_P(EmuLegacy, AaaAndAasCarryIntoAh) {
    EXPECT_EQ(run({0x37}, 0x006b), -1);   // '5' + '6' = 6Bh: AX = 0101h
    EXPECT_EQ(eax(), 0x0101u);
    EXPECT_EQ(arith() & (kAf | kCf), kAf | kCf);
    EXPECT_EQ(run({0x37}, 0x00fa), -1);   // AL + 6 carries into AH as well
    EXPECT_EQ(eax(), 0x0200u);
    EXPECT_EQ(run({0x37}, 0x1234), -1);   // no adjustment: AL's high nibble cleared, AF CF clear
    EXPECT_EQ(eax(), 0x1204u);
    EXPECT_EQ(arith() & (kAf | kCf), 0u);
    EXPECT_EQ(run({0x3f}, 0x0203, kAf), -1);   // AL - 6 borrows from AH, then AH - 1
    EXPECT_EQ(eax(), 0x000du);
    EXPECT_EQ(arith() & (kAf | kCf), kAf | kCf);
}

TEST_P(EmuLegacy, AamAndAadAndAamZeroIsDe) {
    EXPECT_EQ(run({0xd4, 0x0a}, 0x76543210), -1);   // kvm-unit-tests realmode test_aam
    EXPECT_EQ(eax(), 0x76540106u);
    EXPECT_EQ(run({0xd5, 0x0a}, 0x12345678), -1);   // test_aad
    EXPECT_EQ(eax(), 0x123400d4u);
    EXPECT_EQ(arith(), kSf | kPf);   // D4h: four bits set
    EXPECT_EQ(run({0xd4, 0x00}, 0x1234), kDe);
    EXPECT_EQ(eax(), 0x1234u);
}

TEST_P(EmuLegacy, SalcSetsAlFromCarry) {
    EXPECT_EQ(run({0xd6}, 0x12345678), -1);
    EXPECT_EQ(eax(), 0x12345600u);
    EXPECT_EQ(run({0xd6}, 0x12345678, kCf), -1);
    EXPECT_EQ(eax(), 0x123456ffu);
}

TEST_P(EmuLegacy, BoundRaisesBrOutsideTheSignedRange) {
    h.poke<int32_t>(kOperand, -5);
    h.poke<int32_t>(kOperand + 4, 10);
    const Bytes code = {0xbb, 0x00, 0x00, 0x02, 0x00,   // mov $kOperand, %ebx
                        0x62, 0x03};                    // bound %eax, (%ebx)
    for (int32_t idx : {-5, 0, 10}) EXPECT_EQ(run(code, static_cast<uint32_t>(idx)), -1) << idx;
    for (int32_t idx : {-6, 11}) {
        EXPECT_EQ(run(code, static_cast<uint32_t>(idx)), kBr) << idx;
        EXPECT_EQ(h.read<uint32_t>(kStackTop - 12), kCode + 5) << "a fault: the saved EIP is BOUND's";
    }
    h.poke<int16_t>(kOperand, 2);
    h.poke<int16_t>(kOperand + 2, 3);
    EXPECT_EQ(run({0xbb, 0x00, 0x00, 0x02, 0x00, 0x66, 0x62, 0x03}, 0xffff0004), kBr);   // bound %ax: 4 > 3
}

TEST_P(EmuLegacy, FarPointerLoads) {
    h.poke<uint32_t>(kOperand, 0x12345678);
    h.poke<uint16_t>(kOperand + 4, kData);
    struct Form { Bytes op; int seg; };
    for (const Form& f : {Form{{0xc5, 0x03}, kDs}, Form{{0xc4, 0x03}, kEs}, Form{{0x0f, 0xb2, 0x03}, kSs},
                          Form{{0x0f, 0xb4, 0x03}, kFs}, Form{{0x0f, 0xb5, 0x03}, kGs}}) {
        SCOPED_TRACE(f.seg);
        h.cpu().seg[f.seg].selector = 0;
        Bytes code = {0xbb, 0x00, 0x00, 0x02, 0x00};   // mov $kOperand, %ebx
        code.insert(code.end(), f.op.begin(), f.op.end());
        EXPECT_EQ(run(code, 0), -1);
        EXPECT_EQ(eax(), 0x12345678u);
        EXPECT_EQ(h.cpu().seg[f.seg].selector, kData);
    }
    // A null selector: DS takes it, SS does not (#GP, and EAX is unchanged).
    h.poke<uint16_t>(kOperand + 4, 0);
    EXPECT_EQ(run({0xbb, 0x00, 0x00, 0x02, 0x00, 0xc5, 0x03}, 0), -1);
    EXPECT_EQ(h.cpu().seg[kDs].selector, 0);
    h.cpu().seg[kDs] = h.cpu().seg[kEs];
    EXPECT_EQ(run({0xbb, 0x00, 0x00, 0x02, 0x00, 0x0f, 0xb2, 0x03}, 7), kGp);
    EXPECT_EQ(eax(), 7u);
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuLegacy, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

TEST(EmuLegacyModes, RealModeLdsLoadsTheParagraph) {
    EmuHarness h;
    h.setup_real();
    h.poke<uint16_t>(0x100, 0xbeef);
    h.poke<uint16_t>(0x102, 0x1234);
    h.load_code({0xbb, 0x00, 0x01,   // mov $0x100, %bx
                 0xc5, 0x07,         // lds (%bx), %ax
                 0xf4});
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(h.cpu().gpr[hv::RAX] & 0xffff, 0xbeefu);
    EXPECT_EQ(h.cpu().seg[kDs].selector, 0x1234);
    EXPECT_EQ(h.cpu().seg[kDs].base, 0x12340u);
}

TEST(EmuLegacyModes, InvalidIn64BitMode) {
    for (const Bytes& op : {Bytes{0x27}, Bytes{0x2f}, Bytes{0x37}, Bytes{0x3f}, Bytes{0xd4, 0x0a}, Bytes{0xd5, 0x0a},
                            Bytes{0xd6}}) {
        SCOPED_TRACE(op[0]);
        EmuHarness h;
        h.setup_long_mode();
        Bytes code = op;
        code.push_back(0xf4);
        h.load_code(code);
        ASSERT_TRUE(is_halt(h.run()));
        EXPECT_TRUE(h.reported());
        EXPECT_EQ(h.reported_rip(), kCode);
    }
}

}  // namespace
}  // namespace popek::emu::test
