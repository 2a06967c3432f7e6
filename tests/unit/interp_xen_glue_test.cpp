/// The Xen personality on the own engine (src/hv/xen/xen_cpu_hooks.cpp over emu/cpu_hooks.h) and the interp backend's hv seam
/// extras: CPUID leaves, the hypercall-page MSR, the stub's OUT becoming a hv::Hypercall exit,
/// translate_gva without side effects, and inject_vector's vCPU bounds.
#include "emu_harness.h"
#include "hv/interp/interp_hypervisor.h"
#include "hv/interp/interp_vcpu.h"
#include "hv/xen/xen_cpu_hooks.h"
#include "hv/xen/xen_personality.h"
#include "hv/interp/interp_vm.h"
#include "interp_vm_harness.h"

#include <cerrno>
#include <chrono>
#include <thread>

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kStubPage = 0x30000;

class InterpXen : public ::testing::Test {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.cpu().shared().hooks = &hv::xen::engine_hooks();
    }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    std::array<uint32_t, 4> cpuid(uint32_t leaf) {
        h.load_code({0x0f, 0xa2, 0xf4});   // cpuid; hlt
        r(hv::RAX) = leaf;
        r(hv::RCX) = 0;
        EXPECT_TRUE(is_halt(h.run()));
        return {static_cast<uint32_t>(r(hv::RAX)), static_cast<uint32_t>(r(hv::RBX)),
                static_cast<uint32_t>(r(hv::RCX)), static_cast<uint32_t>(r(hv::RDX))};
    }
    EmuHarness h;
};

TEST_F(InterpXen, CpuidShowsXenLeavesOnlyWithXen) {
    auto sig = cpuid(0x40000000);
    EXPECT_EQ(sig[0], 0x40000004u);   // highest Xen leaf
    EXPECT_EQ(sig[1], 0x566e6558u);   // "XenV"
    EXPECT_EQ(sig[2], 0x65584d4du);   // "MMXe"
    EXPECT_EQ(sig[3], 0x4d4d566eu);   // "nVMM"
    EXPECT_EQ(cpuid(0x40000001)[0], (hv::xen::kXenMajor << 16) | hv::xen::kXenMinor);
    EXPECT_EQ(cpuid(0x40000002)[1], hv::xen::kHypercallPageMsr);
    EXPECT_EQ(cpuid(0x40000003)[2], 2'000'000u);   // TSC kHz of the 2 GHz guest TSC
    EXPECT_EQ(cpuid(0x40000005), (std::array<uint32_t, 4>{0, 0, 0, 0}));
    h.cpu().shared().hooks = nullptr;
    EXPECT_NE(cpuid(0x40000000)[1], 0x566e6558u);
}

TEST_F(InterpXen, HypercallStubExitsAndTheResultLandsInRax) {
    r(hv::RDI) = 1;
    r(hv::RSI) = 2;
    r(hv::RDX) = 3;
    r(10) = 4;
    r(8) = 5;
    r(hv::RAX) = 0xdeadbeef00000000;
    h.load_code({0xb8, 0x11, 0x00, 0x00, 0x00, 0xe7, 0xe5, 0xf4});   // mov $17,%eax; out %eax,$0xe5; hlt
    auto e = h.run();
    auto* hc = std::get_if<hv::Hypercall>(&e);
    ASSERT_NE(hc, nullptr) << "exit index " << e.index();
    EXPECT_EQ(hc->nr, 17u);
    EXPECT_EQ(hc->args[0], 1u);
    EXPECT_EQ(hc->args[1], 2u);
    EXPECT_EQ(hc->args[2], 3u);
    EXPECT_EQ(hc->args[3], 4u);
    EXPECT_EQ(hc->args[4], 5u);
    ASSERT_NE(hc->result, nullptr);
    *hc->result = static_cast<uint64_t>(-38);
    h.cpu().complete_io();
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(r(hv::RAX), static_cast<uint64_t>(-38));
    EXPECT_EQ(h.cpu().rip, kCode + 8);
}

TEST(InterpXen32, AProtectedModeCallerPassesEbxEcxEdxEsiEdi) {
    EmuHarness h;
    h.setup_protected32();
    h.cpu().shared().hooks = &hv::xen::engine_hooks();
    auto& r = h.cpu().gpr;
    r[hv::RBX] = 1;
    r[hv::RCX] = 2;
    r[hv::RDX] = 3;
    r[hv::RSI] = 4;
    r[hv::RDI] = 5;
    h.load_code({0xb8, 0x12, 0x00, 0x00, 0x00, 0xe7, 0xe5, 0xf4});   // mov $18,%eax; out %eax,$0xe5; hlt
    auto e = h.run();
    auto* hc = std::get_if<hv::Hypercall>(&e);
    ASSERT_NE(hc, nullptr) << "exit index " << e.index();
    EXPECT_EQ(hc->nr, 18u);
    EXPECT_TRUE(hc->compat);
    EXPECT_EQ((std::array<uint64_t, 5>{hc->args[0], hc->args[1], hc->args[2], hc->args[3], hc->args[4]}),
              (std::array<uint64_t, 5>{1, 2, 3, 4, 5}));
}

TEST_F(InterpXen, VmcallAndVmmcallAreHypercallsNumberedByEax) {
    // Linux since XSA-466 calls Xen with VMCALL (Intel) or VMMCALL (AMD), number in EAX.
    for (const Bytes& insn : {Bytes{0x0f, 0x01, 0xc1}, Bytes{0x0f, 0x01, 0xd9}}) {
        SCOPED_TRACE(static_cast<int>(insn[2]));
        EmuHarness g;
        g.setup_long_mode();
        g.cpu().shared().hooks = &hv::xen::engine_hooks();
        Bytes code = insn;
        code.push_back(0xf4);   // hlt
        g.load_code(code);
        g.cpu().gpr[hv::RAX] = 0xffffffff00000022;   // the upper half is not part of the number
        g.cpu().gpr[hv::RDI] = 11;
        g.cpu().gpr[8] = 55;
        auto e = g.run();
        auto* hc = std::get_if<hv::Hypercall>(&e);
        ASSERT_NE(hc, nullptr) << "exit index " << e.index();
        EXPECT_EQ(hc->nr, 0x22u);
        EXPECT_EQ(hc->args[0], 11u);
        EXPECT_EQ(hc->args[4], 55u);
        *hc->result = 5;
        g.cpu().complete_io();
        ASSERT_TRUE(is_halt(g.run()));
        ASSERT_FALSE(g.reported());
        EXPECT_EQ(g.cpu().gpr[hv::RAX], 5u);
        EXPECT_EQ(g.cpu().rip, kCode + 4);
    }
}

TEST_F(InterpXen, VmcallWithoutXenIsAKvmHypercallNotAnExit) {
    h.cpu().shared().hooks = nullptr;
    r(hv::RAX) = 0x22;   // a Xen hypercall number: to KVM's ABI an unknown one
    h.load_code({0x0f, 0x01, 0xc1, 0xf4});
    auto e = h.run();
    ASSERT_TRUE(is_halt(e)) << "exit index " << e.index();
    ASSERT_FALSE(h.reported()) << "VMCALL faulted";
    EXPECT_EQ(r(hv::RAX), static_cast<uint64_t>(-1000));   // -KVM_ENOSYS (emu_kvm_hypercall_test.cpp)
}

TEST_F(InterpXen, VmcallFromRing3IsRefusedWithEperm) {
    // iretq to ring 3; there: mov $0x22,%eax; vmcall; mov %rax,%rdx; hlt (#GP, back to the handler,
    // which uses rax, rbx and rcx)
    h.load_code({0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x48, 0x8d, 0x05, 0x03,
                 0x00, 0x00, 0x00, 0x50, 0x48, 0xcf, 0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0x48,
                 0x89, 0xc2, 0xf4});
    auto e = h.run();
    ASSERT_TRUE(is_halt(e)) << "exit index " << e.index() << " (a ring-3 VMCALL reached the VMM)";
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_rip(), kCode + 32);   // the #GP of the ring-3 HLT, after the VMCALL
    EXPECT_EQ(r(hv::RDX), static_cast<uint64_t>(-static_cast<int64_t>(EPERM)));
}

TEST_F(InterpXen, CpuidLeaf4OffersPerVcpuUpcallVectors) {
    EXPECT_TRUE(cpuid(0x40000004)[0] & (1u << 6));   // XEN_HVM_CPUID_UPCALL_VECTOR
}

TEST_F(InterpXen, OtherSizesOnTheHypercallPortArePlainPortIo) {
    h.load_code({0xb0, 0x41, 0xe6, 0xe5, 0xf4});   // mov $0x41,%al; out %al,$0xe5; hlt
    auto e = h.run();
    auto* out = std::get_if<hv::PioOut>(&e);
    ASSERT_NE(out, nullptr) << "exit index " << e.index();
    EXPECT_EQ(out->port, hv::xen::kHypercallPort);
    EXPECT_EQ(out->size, 1);
}

TEST_F(InterpXen, WithoutXenTheHypercallPortIsPlainPortIo) {
    h.cpu().shared().hooks = nullptr;
    h.load_code({0xb8, 0x11, 0x00, 0x00, 0x00, 0xe7, 0xe5, 0xf4});
    auto e = h.run();
    EXPECT_TRUE(std::holds_alternative<hv::PioOut>(e)) << "exit index " << e.index();
}

TEST_F(InterpXen, HypercallMsrInstallsThePageAndReadsZero) {
    r(hv::RDX) = 0x1234;
    // mov $0x40000000,%ecx; mov $0x30000,%eax; xor %edx,%edx; wrmsr; rdmsr; hlt
    h.load_code({0xb9, 0x00, 0x00, 0x00, 0x40, 0xb8, 0x00, 0x00, 0x03, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0x0f, 0x32, 0xf4});
    ASSERT_TRUE(is_halt(h.run()));
    ASSERT_FALSE(h.reported()) << "unexpected exception";
    EXPECT_EQ(r(hv::RAX), 0u);
    EXPECT_EQ(r(hv::RDX), 0u);
    // stub 17: mov $17,%eax; out %eax,$0xe5; ret
    EXPECT_EQ(h.read<uint8_t>(kStubPage + 17 * 32), 0xb8);
    EXPECT_EQ(h.read<uint8_t>(kStubPage + 17 * 32 + 1), 17);
    EXPECT_EQ(h.read<uint8_t>(kStubPage + 17 * 32 + 5), 0xe7);
}

TEST_F(InterpXen, HypercallMsrOutsideRamOrPageIndexIsGp) {
    for (uint32_t value : {0xd0000000u, 0x30001u}) {
        SCOPED_TRACE(value);
        EmuHarness g;
        g.setup_long_mode();
        g.cpu().shared().hooks = &hv::xen::engine_hooks();
        Bytes code = {0xb9, 0x00, 0x00, 0x00, 0x40, 0xb8, 0, 0, 0, 0, 0x31, 0xd2, 0x0f, 0x30, 0xf4};
        std::memcpy(&code[6], &value, 4);
        g.load_code(code);
        ASSERT_TRUE(is_halt(g.run()));
        ASSERT_TRUE(g.reported()) << "WRMSR did not fault";
        EXPECT_EQ(g.reported_rip(), kCode + 12);   // #GP(0) at the WRMSR
        EXPECT_EQ(g.reported_error(), 0u);
    }
}

TEST_F(InterpXen, InstallingOverDecodedCodeRunsTheNewStubs) {
    // Stub 17's slot first holds "mov $0x99,%eax; ret", which runs (and gets decoded) once.
    h.write(kStubPage + 17 * 32, {0xb8, 0x99, 0x00, 0x00, 0x00, 0xc3});
    r(hv::RSI) = kStubPage + 17 * 32;
    // call *%rsi; mov %eax,%ebx; (install the page at kStubPage); mov $3,%eax; call *%rsi; hlt
    h.load_code({0xff, 0xd6, 0x89, 0xc3, 0xb9, 0x00, 0x00, 0x00, 0x40, 0xb8, 0x00, 0x00, 0x03, 0x00, 0x31, 0xd2,
                 0x0f, 0x30, 0xb8, 0x03, 0x00, 0x00, 0x00, 0xff, 0xd6, 0xf4});
    auto e = h.run();
    auto* hc = std::get_if<hv::Hypercall>(&e);
    ASSERT_NE(hc, nullptr) << "the old stub ran again (exit index " << e.index() << ")";
    EXPECT_EQ(hc->nr, 17u);
    EXPECT_EQ(r(hv::RBX), 0x99u);
    *hc->result = 7;
    h.cpu().complete_io();
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(r(hv::RAX), 7u);
}

TEST(InterpVcpuTranslate, WalksWithoutSideEffects) {
    EmuHarness h;
    h.setup_long_mode();
    constexpr uint64_t kLa = kPtBase + 0x5000;
    h.set_pte(kLa, 0x123000 | 7);   // present, writable, user; A and D clear
    h.set_pte(kLa + 0x1000, 0);     // not present
    h.cpu().cr2 = 0x77;
    hv::interp::InterpVcpu v(h.cpu().shared(), 0, nullptr);
    ASSERT_TRUE(v.set_state(h.cpu().save_state()));
    auto gpa = v.translate_gva(kLa + 0x10);
    ASSERT_TRUE(gpa) << gpa.error().message;
    EXPECT_EQ(*gpa, 0x123010u);
    EXPECT_EQ(h.read<uint64_t>(kPt + ((kLa - kPtBase) >> 12) * 8), 0x123000u | 7);   // no A/D set
    EXPECT_EQ(*v.translate_gva(0x1234), 0x1234u);   // through the 2 MiB page
    auto missing = v.translate_gva(kLa + 0x1000);
    EXPECT_FALSE(missing);
    EXPECT_FALSE(v.translate_gva(0x0000800000000000ULL));   // not canonical
    EXPECT_FALSE(v.translate_gva(0x0000700000000000ULL));   // PML4 entry not present
    auto st = v.get_state();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->cr2, 0x77u);   // no #PF was raised
}

TEST(InterpVm, SampleTscFollowsTheGuestClock) {
    auto hyp = hv::interp::open_interp();
    ASSERT_TRUE(hyp);
    auto vm = (*hyp)->create_vm(hv::VmConfig{1, true});
    ASSERT_TRUE(vm);
    EXPECT_FALSE((*vm)->sample_tsc());   // no clock before guest memory
    auto mem = memory::GuestMemory::create(1 << 20);
    ASSERT_TRUE(mem);
    ASSERT_TRUE((*vm)->set_memory(*mem));
    auto a = (*vm)->sample_tsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto b = (*vm)->sample_tsc();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->tsc_hz, hv::interp::kTscHz);
    ASSERT_GT(b->host_ns, a->host_ns);
    // The TSC advances at tsc_hz between the two samples (to within 1 tick of rounding).
    double expect = static_cast<double>(b->host_ns - a->host_ns) * static_cast<double>(a->tsc_hz) / 1e9;
    EXPECT_NEAR(static_cast<double>(b->tsc - a->tsc), expect, 2.0);
}

TEST(InterpVm, InjectVectorReachesExistingVcpusOnly) {
    auto hyp = hv::interp::open_interp();
    ASSERT_TRUE(hyp);
    auto vm = (*hyp)->create_vm(hv::VmConfig{2, true});
    ASSERT_TRUE(vm);
    auto mem = memory::GuestMemory::create(1 << 20);
    ASSERT_TRUE(mem);
    ASSERT_TRUE((*vm)->set_memory(*mem));
    EXPECT_TRUE((*vm)->inject_vector(1, 0xf3));
    EXPECT_FALSE((*vm)->inject_vector(2, 0xf3));
    EXPECT_FALSE((*vm)->inject_vector(-1, 0xf3));
}

const Bytes kCliHlt{0xfa, 0xf4};

bool all_down(const hv::VcpuExit& e) {
    auto* sd = std::get_if<hv::Shutdown>(&e);
    return sd != nullptr && sd->reason == hv::Shutdown::AllVcpusDown;
}

TEST(InterpXenCliHlt, TheLastVcpuUpHaltingWithInterruptsOffEndsTheDomain) {
    ProtectedModeVm one(1, 1, true, kCliHlt);
    EXPECT_TRUE(all_down(one.run(0)));
    ProtectedModeVm ap_never_started(2, 1, true, kCliHlt);   // an AP waiting for SIPI is down, as in Xen
    EXPECT_TRUE(all_down(ap_never_started.run(0)));
    ProtectedModeVm two(2, 2, true, kCliHlt);
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(two.run(0))) << "vCPU 1 is still up";
    EXPECT_TRUE(all_down(two.run(1)));
}

TEST(InterpXenCliHlt, WithoutXenItIsAnOrdinaryHalt) {
    ProtectedModeVm one(1, 1, false, kCliHlt);
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(one.run(0)));
}

}  // namespace
}  // namespace popek::emu::test
