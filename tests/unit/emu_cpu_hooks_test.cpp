/// The own engine's generic personality seam (emu/cpu_hooks.h): CPUID, RDMSR/WRMSR, OUT and
/// VMCALL reach the installed hooks before the CPU model, a hook can end an instruction with a
/// hypercall exit whose result lands in RAX, and what the hooks decline is the model's own.
/// The Xen layer over it is tested in interp_xen_glue_test.cpp.
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

constexpr uint32_t kLeaf = 0x4fff0000, kMsr = 0x4fff0001;
constexpr uint16_t kPort = 0x99;

class RecordingHooks final : public CpuHooks {
public:
    bool cpuid(Cpu&, uint32_t leaf, uint32_t out[4]) override {
        if (leaf != kLeaf) return false;
        out[0] = 0x11, out[1] = 0x22, out[2] = 0x33, out[3] = 0x44;
        return true;
    }
    bool read_msr(Cpu&, uint32_t msr, uint64_t& value) override {
        if (msr != kMsr) return false;
        value = 0x1234'5678'9abc'def0;
        return true;
    }
    bool write_msr(Cpu&, uint32_t msr, uint64_t value) override {
        if (msr != kMsr) return false;
        written = value;
        return true;
    }
    bool port_out(Cpu& cpu, uint16_t port, unsigned size, uint32_t value) override {
        if (port != kPort || size != 4) return false;
        cpu.exit_hypercall(hv::Hypercall{value, {1, 2, 3, 4, 5}, nullptr});
        return true;
    }
    bool vmcall(Cpu&) override {
        ++vmcalls;
        return false;
    }
    bool hlt_with_if0_downs_vcpu() const override { return false; }
    uint64_t written = 0;
    int vmcalls = 0;
};

class EmuCpuHooks : public ::testing::Test {
protected:
    void SetUp() override { h.setup_long_mode(); }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    EmuHarness h;
    RecordingHooks hooks;
};

TEST_F(EmuCpuHooks, CpuidAndMsrsReachTheHooksFirst) {
    h.cpu().shared().hooks = &hooks;
    // cpuid(kLeaf); mov %eax,%r8d; rdmsr(kMsr); mov %rax,%r9; mov %rdx,%r10;
    // wrmsr(kMsr, edx:eax = 7:8); hlt
    h.load_code({0xb8, 0x00, 0x00, 0xff, 0x4f, 0x0f, 0xa2, 0x41, 0x89, 0xc0,   //
                 0xb9, 0x01, 0x00, 0xff, 0x4f, 0x0f, 0x32, 0x49, 0x89, 0xc1, 0x49, 0x89, 0xd2,   //
                 0xb8, 0x08, 0x00, 0x00, 0x00, 0xba, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xf4});
    ASSERT_TRUE(is_halt(h.run()));
    ASSERT_FALSE(h.reported());
    EXPECT_EQ(r(8), 0x11u);
    EXPECT_EQ(r(hv::RBX), 0x22u);
    EXPECT_EQ(r(9), 0x9abc'def0u);   // RDMSR: EAX the low half, EDX the high half
    EXPECT_EQ(r(10), 0x1234'5678u);
    EXPECT_EQ(hooks.written, 0x7'0000'0008u);
}

TEST_F(EmuCpuHooks, WithoutHooksTheModelAnswers) {
    // rdmsr(kMsr): an MSR the CPU model does not have is #GP(0) (SDM Vol. 2B RDMSR).
    h.load_code({0xb9, 0x01, 0x00, 0xff, 0x4f, 0x0f, 0x32, 0xf4});
    (void)h.run();
    EXPECT_TRUE(h.reported()) << "no #GP: the MSR was answered without hooks";
    EXPECT_EQ(hooks.written, 0u);
}

TEST_F(EmuCpuHooks, AHookEndsTheInstructionWithAHypercallWhoseResultLandsInRax) {
    h.cpu().shared().hooks = &hooks;
    // mov $0x2a,%eax; out %eax,$0x99; hlt
    h.load_code({0xb8, 0x2a, 0x00, 0x00, 0x00, 0xe7, 0x99, 0xf4});
    auto e = h.run();
    auto* hc = std::get_if<hv::Hypercall>(&e);
    ASSERT_NE(hc, nullptr) << "exit index " << e.index();
    EXPECT_EQ(hc->nr, 0x2au);
    EXPECT_EQ(hc->args[4], 5u);
    ASSERT_NE(hc->result, nullptr) << "the CPU provides the result's home";
    EXPECT_EQ(h.cpu().rip, kCode + 7) << "the OUT completed before the exit";
    *hc->result = 0xfeed;
    h.cpu().complete_io();
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(r(hv::RAX), 0xfeedu);
}

TEST_F(EmuCpuHooks, AnOutTheHooksDeclineIsAnExit) {
    h.cpu().shared().hooks = &hooks;
    // out %al,$0x99 (1 byte: declined, a PioOut exit); hlt
    h.load_code({0xe6, 0x99, 0xf4});
    auto e = h.run();
    auto* out = std::get_if<hv::PioOut>(&e);
    ASSERT_NE(out, nullptr) << "exit index " << e.index();
    EXPECT_EQ(out->port, kPort);
    h.cpu().complete_io();
    ASSERT_TRUE(is_halt(h.run()));
}

TEST_F(EmuCpuHooks, ADeclinedVmcallIsAKvmHypercall) {
    h.cpu().shared().hooks = &hooks;
    // mov $0x999,%eax; vmcall; hlt: declined, so KVM's ABI answers -KVM_ENOSYS.
    h.load_code({0xb8, 0x99, 0x09, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0xf4});
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(hooks.vmcalls, 1);
    EXPECT_EQ(r(hv::RAX), static_cast<uint64_t>(-1000));
}

}  // namespace
}  // namespace popek::emu::test
