/// Differences from the host CPU that popek_difftest found in the own engine, pinned down one by
/// one with hand-computed expectations (the behaviour of Intel and AMD CPUs in 64-bit mode).
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kData = 0x40000;   // identity-mapped RAM for the memory operands below

class EmuDifftestRegression : public EmuLongModeTest {};

// CMPXCHG r/m32, r32 (SDM Vol. 2A): only the register that is written is zero-extended.
TEST_F(EmuDifftestRegression, CmpxchgRegisterMismatchWritesOnlyTheAccumulator) {
    r(hv::RAX) = 0xaaaaaaaa00000001;
    r(hv::RCX) = 0x1111111122222222;
    r(8) = 0x97001df6ec7e93fa;
    run({0x41, 0x0f, 0xb1, 0xc8, 0xf4});   // cmpxchg %ecx, %r8d; hlt
    EXPECT_EQ(r(8), 0x97001df6ec7e93faULL);   // not written: upper half kept
    EXPECT_EQ(r(hv::RAX), 0xec7e93faULL);     // loaded and zero-extended
    EXPECT_EQ(h.cpu().rflags & kZf, 0u);
}

TEST_F(EmuDifftestRegression, CmpxchgRegisterMatchWritesOnlyTheDestination) {
    r(hv::RAX) = 0xaaaaaaaaec7e93fa;
    r(hv::RCX) = 0x1111111122222222;
    r(8) = 0x97001df6ec7e93fa;
    run({0x41, 0x0f, 0xb1, 0xc8, 0xf4});   // cmpxchg %ecx, %r8d; hlt
    EXPECT_EQ(r(8), 0x22222222ULL);                 // written and zero-extended
    EXPECT_EQ(r(hv::RAX), 0xaaaaaaaaec7e93faULL);   // not written
    EXPECT_NE(h.cpu().rflags & kZf, 0u);
}

TEST_F(EmuDifftestRegression, CmpxchgMemoryMatchKeepsTheAccumulator) {
    h.poke<uint64_t>(kData, 0x5555555512345678);
    r(hv::RAX) = 0xaaaaaaaa12345678;
    r(hv::RCX) = 0x99;
    run({0xf0, 0x0f, 0xb1, 0x0c, 0x25, 0x00, 0x00, 0x04, 0x00, 0xf4});   // lock cmpxchg %ecx, kData
    EXPECT_EQ(h.read<uint64_t>(kData), 0x5555555500000099ULL);
    EXPECT_EQ(r(hv::RAX), 0xaaaaaaaa12345678ULL);
}

// LOCK INC/DEC on memory must operate at the instruction's operand size.
TEST_F(EmuDifftestRegression, LockedIncDecUseTheOperandSize) {
    h.poke<uint64_t>(kData, 0x000000000000ffff);
    h.poke<uint64_t>(kData + 8, 0x0000000100000000);
    // lock incw kData; pushfq; pop %rbx; lock decq kData+8; hlt
    run({0x66, 0xf0, 0xff, 0x04, 0x25, 0x00, 0x00, 0x04, 0x00, 0x9c, 0x5b,
         0xf0, 0x48, 0xff, 0x0c, 0x25, 0x08, 0x00, 0x04, 0x00, 0xf4});
    EXPECT_EQ(h.read<uint64_t>(kData), 0u);   // 16-bit wrap, no carry into bit 16
    EXPECT_NE(r(hv::RBX) & kZf, 0u);
    EXPECT_EQ(r(hv::RBX) & kSf, 0u);
    EXPECT_EQ(h.read<uint64_t>(kData + 8), 0x00000000ffffffffULL);   // 64-bit borrow
    EXPECT_EQ(h.cpu().rflags & (kZf | kSf), 0u);
}

// A masked shift count of 0 still writes a 32-bit register destination (upper half cleared), but
// not a 64-bit register, a memory operand, or the flags.
TEST_F(EmuDifftestRegression, ZeroCountShiftsClearTheUpperHalfOf32BitRegisters) {
    r(hv::RDX) = 0xffffffff80000001;
    r(hv::RCX) = 64;
    r(9) = 0xffffffff00000001;
    r(hv::RDI) = 0x1234567800000010;
    r(hv::RSI) = 0xffffffffffffffff;
    h.poke<uint64_t>(kData, 0xffffffffffffffff);
    h.cpu().rflags |= kCf | kOf;
    // shl $32,%edx; shl %cl,%r9; shrd $0,%esi,%edi; shll $32,kData; hlt
    run({0xc1, 0xe2, 0x20, 0x49, 0xd3, 0xe1, 0x0f, 0xac, 0xf7, 0x00,
         0xc1, 0x24, 0x25, 0x00, 0x00, 0x04, 0x00, 0x20, 0xf4});
    EXPECT_EQ(r(hv::RDX), 0x80000001ULL);
    EXPECT_EQ(r(9), 0xffffffff00000001ULL);
    EXPECT_EQ(r(hv::RDI), 0x10ULL);
    EXPECT_EQ(h.read<uint64_t>(kData), 0xffffffffffffffffULL);
    EXPECT_EQ(h.cpu().rflags & (kCf | kOf), kCf | kOf);
}

}  // namespace
}  // namespace popek::emu::test
