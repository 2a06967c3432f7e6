// AES-NI and PCLMULQDQ in the interpreter (emu/interp/sse_crypto.cpp) against this host CPU
// running the same instruction on the same random states; their exceptions (SDM Vol. 2A 2.8
// "Exceptions Type 4": CR0/CR4 availability, #GP(0) for a misaligned m128) and CPUID.1:ECX
// AES (25) / PCLMULQDQ (1), which must match the host.
#include <cpuid.h>

#include "emu_fp_harness.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

bool host_ecx_bit(unsigned bit) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> bit) & 1u);
}
bool host_aes() { return host_ecx_bit(25); }
bool host_pclmul() { return host_ecx_bit(1); }

#define BIN(op)                                                                                    \
    FpCase{#op " reg", [](G& g) { g.op(xmm1, xmm2); }}, FpCase{#op " mem", [](G& g) { g.op(xmm9, g.ptr[rbx + 32]); }}, \
        FpCase{#op " same", [](G& g) { g.op(xmm3, xmm3); }}, FpCase{#op " high", [](G& g) { g.op(xmm15, xmm8); }}

TEST(EmuSseCrypto, AesRounds) {
    if (!host_aes()) GTEST_SKIP() << "host without AES-NI";
    run_fp_cases({BIN(aesenc), BIN(aesenclast), BIN(aesdec), BIN(aesdeclast), BIN(aesimc)}, 100, false);
}
#undef BIN

TEST(EmuSseCrypto, AesKeygenAssistEveryRcon) {
    if (!host_aes()) GTEST_SKIP() << "host without AES-NI";
    std::vector<FpCase> cases;
    for (int imm = 0; imm < 256; ++imm) {
        const auto k = static_cast<uint8_t>(imm);
        cases.push_back({"aeskeygenassist", [k](G& g) { g.aeskeygenassist(xmm1, xmm2, k); }});
        if (imm % 17 == 0) cases.push_back({"aeskeygenassist mem", [k](G& g) { g.aeskeygenassist(xmm10, g.ptr[rbx + 48], k); }});
    }
    cases.push_back({"aeskeygenassist same", [](G& g) { g.aeskeygenassist(xmm4, xmm4, 0x36); }});
    run_fp_cases(cases, 8, false);
}

TEST(EmuSseCrypto, PclmulqdqSelectors) {
    if (!host_pclmul()) GTEST_SKIP() << "host without PCLMULQDQ";
    std::vector<FpCase> cases;
    // The four selectors, and immediates with the ignored bits set.
    for (int imm : {0x00, 0x01, 0x10, 0x11, 0xee, 0xff, 0x0f, 0xf0, 0x31}) {
        const auto k = static_cast<uint8_t>(imm);
        cases.push_back({"pclmulqdq reg", [k](G& g) { g.pclmulqdq(xmm1, xmm2, k); }});
        cases.push_back({"pclmulqdq mem", [k](G& g) { g.pclmulqdq(xmm11, g.ptr[rbx + 16], k); }});
        cases.push_back({"pclmulqdq same", [k](G& g) { g.pclmulqdq(xmm5, xmm5, k); }});
    }
    run_fp_cases(cases, 60, false);
}

GuestRun run(const Emit& e, const FpState& in, uint64_t cr0 = kCr0Default, uint64_t cr4 = kCr4Default) {
    return fp_machine().run(assemble(e), in, cr0, cr4);
}

void expect_fault(const GuestRun& r, uint8_t vector, const FpState& in) {
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, vector);
    EXPECT_EQ(r.saved_rip, kCodeGpa);
    EXPECT_EQ(0, std::memcmp(r.out.fx.xmm, in.fx.xmm, sizeof(in.fx.xmm)));
}

TEST(EmuSseCrypto, ExceptionsType4) {
    if (!host_aes() || !host_pclmul()) GTEST_SKIP() << "host without AES-NI/PCLMULQDQ";
    std::mt19937_64 rng(11);
    const FpState in = random_state(rng);
    const std::vector<Emit> ops = {
        [](G& g) { g.aesenc(xmm1, g.ptr[rbx + 16]); }, [](G& g) { g.aesdeclast(xmm1, xmm2); },
        [](G& g) { g.aesimc(xmm1, g.ptr[rbx + 16]); }, [](G& g) { g.aeskeygenassist(xmm1, xmm2, 1); },
        [](G& g) { g.pclmulqdq(xmm1, g.ptr[rbx + 16], 0x10); }};
    for (const Emit& e : ops) {
        EXPECT_FALSE(run(e, in).faulted);
        expect_fault(run(e, in, kCr0Default | hv::kCr0Ts), kNm, in);
        expect_fault(run(e, in, kCr0Default | hv::kCr0Em), kUd, in);
        expect_fault(run(e, in, kCr0Default, kCr4Default & ~hv::kCr4Osfxsr), kUd, in);
    }
    // Legacy-SSE m128 operands must be 16-byte aligned (checked against the host above too).
    for (const Emit& e : std::vector<Emit>{[](G& g) { g.aesenc(xmm1, g.ptr[rbx + 8]); },
                                           [](G& g) { g.aesimc(xmm1, g.ptr[rbx + 1]); },
                                           [](G& g) { g.aeskeygenassist(xmm1, g.ptr[rbx + 4], 2); },
                                           [](G& g) { g.pclmulqdq(xmm1, g.ptr[rbx + 12], 0); }}) {
        const GuestRun r = run(e, in);
        expect_fault(r, kGp, in);
        EXPECT_EQ(r.error, 0u);
    }
}

TEST(EmuSseCrypto, CpuidMatchesTheHost) {
    GuestRun r = fp_machine().run(assemble([](G& g) {
        g.mov(eax, 1);
        g.cpuid();
    }), FpState{});
    ASSERT_FALSE(r.faulted);
    const uint64_t ecx = r.out.gpr[hv::RCX];
    EXPECT_EQ((ecx >> 25) & 1, host_aes() ? 1u : 0u);      // AES
    EXPECT_EQ((ecx >> 1) & 1, host_pclmul() ? 1u : 0u);     // PCLMULQDQ
}

}  // namespace
}  // namespace popek::emu::test
