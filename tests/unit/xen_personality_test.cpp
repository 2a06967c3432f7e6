// The Xen personality shared by every engine: CPUID leaves and the hypercall page.
#include <gtest/gtest.h>

#include <Zydis/Zydis.h>

#include <array>
#include <cstring>

#include "hv/xen/xen_personality.h"

namespace xen = popek::hv::xen;

TEST(XenPersonality, CpuidSignatureAndLeaves) {
    auto leaves = xen::cpuid_leaves(3, 2'000'000);
    ASSERT_EQ(leaves.size(), 5u);
    char sig[13] = {};
    std::memcpy(sig, &leaves[0].ebx, 4);
    std::memcpy(sig + 4, &leaves[0].ecx, 4);
    std::memcpy(sig + 8, &leaves[0].edx, 4);
    EXPECT_STREQ(sig, "XenVMMXenVMM");
    EXPECT_EQ(leaves[0].eax, 0x40000004u) << "largest Xen leaf";
    EXPECT_EQ(leaves[1].eax >> 16, 4u);
    EXPECT_EQ(leaves[2].eax, 1u) << "one hypercall page";
    EXPECT_EQ(leaves[2].ebx, xen::kHypercallPageMsr);
    EXPECT_EQ(leaves[3].ecx, 2'000'000u) << "TSC kHz";
    EXPECT_EQ(leaves[4].ebx, 3u) << "vCPU id";
}

TEST(XenPersonality, EveryStubIsMovOutRet) {
    std::array<uint8_t, xen::kPageSize> page{};
    xen::fill_hypercall_page(page);
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    for (uint32_t nr = 0; nr < xen::kPageSize / xen::kStubSize; nr += 7) {
        const uint8_t* p = page.data() + nr * xen::kStubSize;
        ZydisDecodedInstruction insn;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, p, xen::kStubSize, &insn, ops)));
        EXPECT_EQ(insn.mnemonic, ZYDIS_MNEMONIC_MOV);
        EXPECT_EQ(ops[1].imm.value.u, nr);
        p += insn.length;
        ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, p, 8, &insn, ops)));
        EXPECT_EQ(insn.mnemonic, ZYDIS_MNEMONIC_OUT);
        EXPECT_EQ(ops[0].imm.value.u, xen::kHypercallPort);
        EXPECT_EQ(ops[1].reg.value, ZYDIS_REGISTER_EAX);
        p += insn.length;
        EXPECT_EQ(*p, 0xc3) << "ret";
        EXPECT_EQ(p[1], 0xcc) << "the rest of the stub traps";
    }
}

TEST(XenPersonality, InstallChecksTheGuestAddress) {
    auto mem = popek::memory::GuestMemory::create(1 << 20);
    ASSERT_TRUE(mem);
    EXPECT_TRUE(xen::install_hypercall_page(*mem, 0x5000));
    EXPECT_EQ(*mem->read_obj<uint8_t>(0x5000), 0xb8);
    EXPECT_FALSE(xen::install_hypercall_page(*mem, 0x5001)) << "page index 1 does not exist";
    EXPECT_FALSE(xen::install_hypercall_page(*mem, 1 << 20)) << "outside guest RAM";
    EXPECT_FALSE(xen::install_hypercall_page(*mem, ~uint64_t{0xfff}));
}

TEST(XenPersonality, CpuidAnswersTheXenRangeOnly) {
    uint32_t out[4] = {1, 2, 3, 4};
    EXPECT_FALSE(xen::cpuid(0x1, 0, 1000, out)) << "not Xen's leaf: the engine answers";
    EXPECT_EQ(out[0], 1u);
    ASSERT_TRUE(xen::cpuid(0x40000004, 2, 1000, out));
    EXPECT_EQ(out[1], 2u) << "vCPU id";
    ASSERT_TRUE(xen::cpuid(0x40000001, 0, 1000, out));
    EXPECT_EQ(out[0], (xen::kXenMajor << 16) | xen::kXenMinor);
    ASSERT_TRUE(xen::cpuid(0x400000ff, 0, 1000, out));
    EXPECT_EQ(out[0] | out[1] | out[2] | out[3], 0u) << "past the last leaf";
}

TEST(XenPersonality, HypercallPageMsrAsEveryEngineHandlesIt) {
    auto mem = popek::memory::GuestMemory::create(1 << 20).value();
    uint64_t value = 7;
    EXPECT_FALSE(xen::read_msr(0x10, value).has_value()) << "not Xen's MSR";
    EXPECT_EQ(xen::read_msr(xen::kHypercallPageMsr, value), std::optional<bool>(true));
    EXPECT_EQ(value, 0u) << "write-only: reads as 0";
    EXPECT_FALSE(xen::write_msr(mem, 0x10, 0x5000).has_value());
    EXPECT_EQ(xen::write_msr(mem, xen::kHypercallPageMsr, 0x5000), std::optional<bool>(true));
    EXPECT_EQ(*mem.read_obj<uint8_t>(0x5000), 0xb8);
    EXPECT_EQ(xen::write_msr(mem, xen::kHypercallPageMsr, 0x5001), std::optional<bool>(false)) << "#GP";
    EXPECT_TRUE(xen::is_hypercall_out(xen::kHypercallPort, 4));
    EXPECT_FALSE(xen::is_hypercall_out(xen::kHypercallPort, 2));
    EXPECT_FALSE(xen::is_hypercall_out(xen::kHypercallPort, 4, 3)) << "string OUT";
    EXPECT_FALSE(xen::is_hypercall_out(0x80, 4));
}

TEST(XenPersonality, HypercallArgumentsFollowTheX86_64Abi) {
    popek::hv::CpuState st;
    using namespace popek::hv;
    st.efer = kEferLme | kEferLma;
    st.cs.l = true;
    st.gpr[RDI] = 1; st.gpr[RSI] = 2; st.gpr[RDX] = 3; st.gpr[R10] = 4; st.gpr[R8] = 5; st.gpr[RCX] = 99;
    uint64_t result = 0;
    auto hc = xen::hypercall_from_state(29, st, &result);
    EXPECT_EQ(hc.nr, 29u);
    EXPECT_EQ(hc.args[0], 1u);
    EXPECT_EQ(hc.args[3], 4u);
    EXPECT_EQ(hc.args[4], 5u);
    EXPECT_EQ(hc.result, &result);
}

TEST(XenPersonality, OutsideLongModeHypercallsFollowThe32BitAbi) {
    // Xen docs/guest-guide/x86/hypercall-abi.rst: ebx ecx edx esi edi, result in eax. Compatibility
    // mode (long mode, 32-bit code segment) is a 32-bit caller too.
    using namespace popek::hv;
    for (bool lma : {false, true}) {
        SCOPED_TRACE(lma);
        CpuState st;
        st.efer = lma ? kEferLme | kEferLma : 0;
        st.cs.db = true;
        st.gpr[RBX] = 0xffffffff00000001; st.gpr[RCX] = 2; st.gpr[RDX] = 3; st.gpr[RSI] = 4; st.gpr[RDI] = 5;
        st.gpr[R10] = 99; st.gpr[R8] = 98;
        uint64_t result = 0;
        auto hc = xen::hypercall_from_state(17, st, &result);
        EXPECT_TRUE(hc.compat);
        EXPECT_EQ(hc.args[0], 1u) << "only the low 32 bits of each register";
        EXPECT_EQ(hc.args[1], 2u);
        EXPECT_EQ(hc.args[2], 3u);
        EXPECT_EQ(hc.args[3], 4u);
        EXPECT_EQ(hc.args[4], 5u);
    }
}
