/// KVM's hypercall ABI on the own engine without --xen (src/emu/kvm_hypercall.cpp; Linux
/// Documentation/virt/kvm/x86/hypercalls.rst): VMCALL and VMMCALL answer in RAX instead of #UD
/// (kvm-unit-tests hypercall, vmexit_vmcall, and apic's test_pv_ipi). Interp and bt alike.
#include "emu_harness.h"
#include "emu_quiet_interrupts.h"

#include <set>
#include <utility>

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;

/// An interrupt platform that records KVM_HC_SEND_IPI's deliveries; APIC IDs in `present` take them.
struct IpiRecorder : QuietInterrupts {
    std::set<uint32_t> present{0, 1, 3, 64};
    std::vector<std::pair<uint32_t, uint32_t>> sent;   ///< (APIC ID, ICR low)
    unsigned send_physical_ipi(uint32_t apic_id, uint32_t icr_low) override {
        sent.emplace_back(apic_id, icr_low);
        return present.contains(apic_id) ? 1 : 0;
    }
};

const Bytes kVmcall{0x0f, 0x01, 0xc1}, kVmmcall{0x0f, 0x01, 0xd9};
constexpr uint64_t kEnosys = static_cast<uint64_t>(-1000), kEperm = static_cast<uint64_t>(-1);

class EmuKvmHypercall : public ::testing::TestWithParam<bool> {
protected:
    EmuKvmHypercall() : h(&ints) {}
    void SetUp() override { h.setup_long_mode(); }
    /// Runs `insn; hlt` from the current mode; expects no exception.
    void call(const Bytes& insn) {
        Bytes code = insn;
        code.push_back(0xf4);
        h.load_code(code);
        h.use_translator(GetParam());
        auto e = h.run();
        ASSERT_TRUE(is_halt(e)) << "exit index " << e.index();
        ASSERT_FALSE(h.reported()) << "exception at " << std::hex << h.reported_rip();
        EXPECT_EQ(h.cpu().rip, kCode + insn.size() + 1);
    }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    IpiRecorder ints;
    EmuHarness h;
};

TEST_P(EmuKvmHypercall, AnUnknownNumberIsEnosysByVmcallAndVmmcall) {
    for (const Bytes& insn : {kVmcall, kVmmcall}) {
        SCOPED_TRACE(static_cast<int>(insn[2]));
        r(hv::RAX) = 0;   // vmexit_vmcall's number
        r(hv::RBX) = 0x1111;
        call(insn);
        EXPECT_EQ(r(hv::RAX), kEnosys);
        EXPECT_EQ(r(hv::RBX), 0x1111u) << "arguments are not clobbered";
        r(hv::RAX) = ~0ULL;   // hypercall's number
        call(insn);
        EXPECT_EQ(r(hv::RAX), kEnosys);
    }
}

TEST_P(EmuKvmHypercall, PollIrqAndSchedYieldAnswerZero) {
    for (uint64_t nr : {1u, 11u}) {
        r(hv::RAX) = nr;
        call(kVmcall);
        EXPECT_EQ(r(hv::RAX), 0u) << nr;
    }
}

TEST_P(EmuKvmHypercall, SendIpiDeliversToEachBitOfBothBitmapsAndCounts) {
    r(hv::RAX) = 10;
    r(hv::RBX) = 0b1011;      // IDs 0, 1, 3
    r(hv::RCX) = 0b101;       // IDs 64, 66 (min + 64 in 64-bit mode)
    r(hv::RDX) = 0;           // min
    r(hv::RSI) = 0x4041;      // fixed, assert, vector 0x41
    call(kVmmcall);
    EXPECT_EQ(r(hv::RAX), 4u) << "ID 66 has no APIC";
    EXPECT_EQ(ints.sent, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 0x4041}, {1, 0x4041}, {3, 0x4041},
                                                                    {64, 0x4041}, {66, 0x4041}}));
}

TEST_P(EmuKvmHypercall, SendIpiAsApicTestIssuesItSendsNothing) {
    // apic.c test_pv_ipi: low bitmap 0xffffffff from ID 0xffffffff, high bitmap 0: no such APIC.
    r(hv::RAX) = 10;
    r(hv::RBX) = 0xffffffff;
    r(hv::RCX) = 0;
    r(hv::RDX) = 0xffffffff;
    r(hv::RSI) = 0;
    call(kVmcall);
    EXPECT_EQ(r(hv::RAX), 0u);
    EXPECT_TRUE(ints.sent.empty());
}

TEST_P(EmuKvmHypercall, SendIpiWithALogicalOrShorthandIcrIsEinval) {
    for (uint64_t icr : {0x0840ULL, 0x40040ULL, 0xc0040ULL}) {
        r(hv::RAX) = 10;
        r(hv::RBX) = 1;
        r(hv::RCX) = 0;
        r(hv::RDX) = 0;
        r(hv::RSI) = icr;
        call(kVmcall);
        EXPECT_EQ(r(hv::RAX), static_cast<uint64_t>(-22)) << std::hex << icr;
    }
    EXPECT_TRUE(ints.sent.empty());
}

TEST_P(EmuKvmHypercall, Ring3IsEperm) {
    // iretq to ring 3; there: xor %eax,%eax; vmcall; mov %rax,%rdx; hlt (#GP, to the handler,
    // which uses rax, rbx and rcx).
    h.load_code({0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x48, 0x8d, 0x05, 0x03,
                 0x00, 0x00, 0x00, 0x50, 0x48, 0xcf, 0xb8, 0x0a, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0x48,
                 0x89, 0xc2, 0xf4});
    h.use_translator(GetParam());
    r(hv::RBX) = 1;
    ASSERT_TRUE(is_halt(h.run()));
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_rip(), kCode + 32) << "the #GP of the ring-3 HLT, after the VMCALL";
    EXPECT_EQ(r(hv::RDX), kEperm);
    EXPECT_TRUE(ints.sent.empty()) << "a ring-3 SEND_IPI sends nothing";
}

TEST_P(EmuKvmHypercall, OutsideLongModeEverythingIs32Bits) {
    EmuHarness g(&ints);
    g.setup_protected32();
    g.load_code({0x0f, 0x01, 0xc1, 0xf4});
    g.use_translator(GetParam());
    g.cpu().gpr[hv::RAX] = 0x1'0000'0022ULL;   // unknown
    ASSERT_TRUE(is_halt(g.run()));
    ASSERT_FALSE(g.reported());
    EXPECT_EQ(g.cpu().gpr[hv::RAX], 0xfffffc18u) << "-KVM_ENOSYS in 32 bits, zero-extended";
    g.cpu().gpr[hv::RAX] = 0x1'0000'000bULL;   // the number is EAX: KVM_HC_SCHED_YIELD
    g.load_code({0x0f, 0x01, 0xc1, 0xf4});
    ASSERT_TRUE(is_halt(g.run()));
    EXPECT_EQ(g.cpu().gpr[hv::RAX], 0u);
    // SEND_IPI with 32-bit bitmaps: the high one starts at min + 32.
    g.cpu().gpr[hv::RAX] = 10;
    g.cpu().gpr[hv::RBX] = 0x1'0000'0001ULL;   // ID 0 only: bit 32 is not part of EBX
    g.cpu().gpr[hv::RCX] = 1;                  // ID 32
    g.cpu().gpr[hv::RDX] = 0;
    g.cpu().gpr[hv::RSI] = 0x30;
    g.load_code({0x0f, 0x01, 0xc1, 0xf4});
    ASSERT_TRUE(is_halt(g.run()));
    EXPECT_EQ(g.cpu().gpr[hv::RAX], 1u);
    EXPECT_EQ(ints.sent, (std::vector<std::pair<uint32_t, uint32_t>>{{0, 0x30}, {32, 0x30}}));
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuKvmHypercall, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
