/// System instructions' 64-bit checks that kvm-unit-tests (la57, lam, msr) and XTF exercise:
/// a non-canonical descriptor-table base is #GP, INVLPG of a non-canonical address does nothing,
/// IA32_MCG_CAP and IA32_DEBUGCTL exist, SYSCALL from compatibility mode enters at CSTAR
/// (SDM Vol. 2A LGDT/LIDT/INVLPG, Vol. 4 MSRs; AMD64 Vol. 2 6.1.1).
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kTableOperand = kCode + 0x800;

class EmuSystemChecks : public EmuLongModeTest {
protected:
    /// Runs `code` and expects an exception at `fault_offset` into it.
    void expect_fault_at(const Bytes& code, uint64_t fault_offset) {
        h.load_code(code);
        auto exit = h.run();
        ASSERT_TRUE(is_halt(exit)) << "exit index " << exit.index();
        ASSERT_TRUE(h.reported()) << "no exception";
        EXPECT_EQ(h.reported_rip(), kCode + fault_offset);
    }
};

TEST_F(EmuSystemChecks, InvlpgOfANonCanonicalAddressIsANop) {
    run({0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80,   // movabs $0x8000000000000000, %rax
         0x0f, 0x01, 0x38,                         // invlpg (%rax)
         0xf4});
}

TEST(EmuSystemChecks32, InvlpgIgnoresNullSegmentsAndLimits) {
    // XTF invlpg: a NULL segment override or an offset past the limit does not fault.
    for (bool null_fs : {true, false}) {
        SCOPED_TRACE(null_fs);
        EmuHarness h;
        h.setup_protected32();
        hv::Segment fs = h.cpu().seg[kFs];
        if (null_fs) {
            fs = hv::Segment{};
            fs.unusable = true;
        } else {
            fs.limit = 0xfff;
        }
        h.cpu().seg[kFs] = fs;
        h.load_code({0xb8, 0x00, 0x00, 0x40, 0x00,   // mov $0x400000, %eax
                     0x64, 0x0f, 0x01, 0x38,         // invlpg %fs:(%eax)
                     0xf4});
        EXPECT_TRUE(is_halt(h.run()));
        EXPECT_EQ(h.cpu().rip, kCode + 10);
    }
}

TEST_F(EmuSystemChecks, LgdtAndLidtWithANonCanonicalBaseAreGp) {
    for (uint8_t modrm : {uint8_t{0x10}, uint8_t{0x18}}) {   // lgdt (%rax), lidt (%rax)
        SCOPED_TRACE(static_cast<int>(modrm));
        h.setup_long_mode();
        h.write(kTableOperand, {0xff, 0x0f, 0, 0, 0, 0, 0, 0xaa, 0xaa, 0xff});   // base 0xffaaaa0000000000
        expect_fault_at({0xb8, static_cast<uint8_t>(kTableOperand), static_cast<uint8_t>(kTableOperand >> 8),
                         static_cast<uint8_t>(kTableOperand >> 16), 0,   // mov $kTableOperand, %eax
                         0x0f, 0x01, modrm, 0xf4},
                        5);
    }
}

TEST_F(EmuSystemChecks, LtrAndLldtOfANonCanonicalBaseAreGp) {
    // A 16-byte system descriptor at 0x40 (and 0x50): present, base 0x8000'0000'0000'0000.
    auto descriptor = [](uint8_t type) {
        return Bytes{0x67, 0, 0, 0, 0, static_cast<uint8_t>(0x80 | type), 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0};
    };
    h.write(kGdt + 0x40, descriptor(9));   // available 64-bit TSS
    h.write(kGdt + 0x50, descriptor(2));   // LDT
    h.cpu().gdt.limit = 0x5f;
    expect_fault_at({0x66, 0xb8, 0x40, 0, 0x0f, 0x00, 0xd8, 0xf4}, 4);   // mov $0x40, %ax; ltr %ax
    h.setup_long_mode();
    h.write(kGdt + 0x50, descriptor(2));
    h.cpu().gdt.limit = 0x5f;
    expect_fault_at({0x66, 0xb8, 0x50, 0, 0x0f, 0x00, 0xd0, 0xf4}, 4);   // mov $0x50, %ax; lldt %ax
}

TEST_F(EmuSystemChecks, SyscallFromCompatibilityModeGoesToCstar) {
    // kvm-unit-tests syscall (AMD semantics): 32-bit code under long mode enters at CSTAR.
    h.cpu().efer |= hv::kEferSce;
    h.cpu().star = uint64_t{kCode64} << 32;
    h.cpu().lstar = kCode + 0x100;
    h.cpu().cstar = kCode + 0x200;
    h.write(kCode + 0x100, {0xf4});
    h.write(kCode + 0x200, {0xf4});
    h.load_code({0x0f, 0x05});   // syscall
    hv::Segment cs = h.cpu().seg[kCs];
    cs.selector = kCode32;
    cs.l = false;
    cs.db = true;
    h.cpu().seg[kCs] = cs;
    h.cpu().update_mode();
    ASSERT_TRUE(is_halt(h.run()));
    ASSERT_FALSE(h.reported());
    EXPECT_EQ(h.cpu().rip, kCode + 0x201) << "halted at CSTAR, not LSTAR";
    EXPECT_EQ(h.cpu().gpr[hv::RCX], kCode + 2);
}

TEST_F(EmuSystemChecks, McgCapAndDebugctlReadAsZero) {
    r(hv::RAX) = r(hv::RDX) = 0x5555;
    run({0xb9, 0x79, 0x01, 0, 0,   // mov $0x179, %ecx (IA32_MCG_CAP)
         0x0f, 0x32,               // rdmsr
         0x89, 0xc6,               // mov %eax, %esi
         0xb9, 0xd9, 0x01, 0, 0,   // mov $0x1d9, %ecx (IA32_DEBUGCTL)
         0x0f, 0x32,               // rdmsr
         0x0f, 0x30,               // wrmsr of what it read (0)
         0xf4});
    EXPECT_EQ(r(hv::RSI), 0u);
    EXPECT_EQ(r(hv::RAX), 0u);
    EXPECT_EQ(r(hv::RDX), 0u);
}

TEST_F(EmuSystemChecks, DebugctlFeaturesPopekLacksAreGp) {
    expect_fault_at({0xb9, 0xd9, 0x01, 0, 0,   // mov $0x1d9, %ecx
                     0xb8, 0x01, 0, 0, 0,      // mov $1, %eax (LBR)
                     0x31, 0xd2,               // xor %edx, %edx
                     0x0f, 0x30, 0xf4},        // wrmsr
                    12);
}

TEST_F(EmuSystemChecks, NearBranchToANonCanonicalTargetFaultsOnTheBranch) {
    // kvm-unit-tests emulator test_jmp_noncanonical: #GP(0) with RIP at the JMP/CALL/RET, RSP kept.
    const Bytes load = {0x48, 0xb8, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};   // movabs $0xaaaa.., %rax
    for (const Bytes& branch : {Bytes{0xff, 0xe0}, Bytes{0xff, 0xd0}, Bytes{0x50, 0xc3}}) {   // jmp/call *%rax; push; ret
        SCOPED_TRACE(static_cast<int>(branch[1]));
        h.setup_long_mode();
        Bytes code = load;
        for (uint8_t b : branch) code.push_back(b);
        code.push_back(0xf4);
        h.cpu().shared().dma_epoch.fetch_add(1);   // new code at kCode: the engine re-verifies its blocks
        const uint64_t at = branch[0] == 0x50 ? load.size() + 1 : load.size();
        expect_fault_at(code, at);
        // The saved RSP (frame on the 16-byte aligned stack, SDM Vol. 3A 6.14.2) is the one before.
        const uint64_t rsp = branch[0] == 0x50 ? kStackTop - 8 : kStackTop;
        EXPECT_EQ(h.read<uint64_t>((rsp & ~0xfULL) - 0x10), rsp);
    }
}

}  // namespace
}  // namespace popek::emu::test
