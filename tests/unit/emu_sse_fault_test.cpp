// SSE exception rules in the interpreter: #UD/#NM from CR0/CR4 (SDM Vol. 3A 13.1-13.4), #GP for
// misaligned m128 operands, unmasked SIMD exceptions (#XM or #UD, MXCSR flags, destination kept),
// LDMXCSR/STMXCSR, the MMX forms this engine does not implement, faults leaving no trace.
#include "emu_fp_harness.h"
#include "emu/interp/sse_common.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

FpState base_state() {
    std::mt19937_64 rng(7);
    return random_state(rng);
}

GuestRun run(const Emit& e, const FpState& in, uint64_t cr0 = kCr0Default, uint64_t cr4 = kCr4Default) {
    return fp_machine().run(assemble(e), in, cr0, cr4);
}

void expect_fault(const GuestRun& r, uint8_t vector, const FpState& in) {
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, vector);
    EXPECT_EQ(r.saved_rip, kCodeGpa);   // faults report the faulting instruction (SDM Vol. 3A 6.5)
    // A faulting instruction leaves registers and memory untouched.
    EXPECT_EQ(0, std::memcmp(r.out.fx.xmm, in.fx.xmm, sizeof(in.fx.xmm)));
    EXPECT_EQ(0, std::memcmp(r.out.mem, in.mem, sizeof(in.mem)));
}

TEST(EmuSseFault, AvailabilityFromControlRegisters) {
    const FpState in = base_state();
    const Emit paddb = [](G& g) { g.paddb(xmm1, xmm2); };
    expect_fault(run(paddb, in, kCr0Default, kCr4Default & ~hv::kCr4Osfxsr), kUd, in);
    expect_fault(run(paddb, in, kCr0Default | hv::kCr0Em), kUd, in);
    expect_fault(run(paddb, in, kCr0Default | hv::kCr0Ts), kNm, in);
    // EM wins over TS (#UD), and CR4.OSFXSR governs LDMXCSR too.
    expect_fault(run(paddb, in, kCr0Default | hv::kCr0Ts | hv::kCr0Em), kUd, in);
    expect_fault(run([](G& g) { g.ldmxcsr(g.ptr[rbx]); }, in, kCr0Default, kCr4Default & ~hv::kCr4Osfxsr), kUd, in);
    EXPECT_FALSE(run(paddb, in).faulted);
}

TEST(EmuSseFault, MisalignedM128) {
    const FpState in = base_state();
    for (const Emit& e : std::vector<Emit>{
             [](G& g) { g.movaps(xmm1, g.ptr[rbx + 8]); }, [](G& g) { g.movdqa(g.ptr[rbx + 4], xmm1); },
             [](G& g) { g.paddb(xmm1, g.ptr[rbx + 1]); }, [](G& g) { g.addps(xmm1, g.ptr[rbx + 8]); },
             [](G& g) { g.movntdq(g.ptr[rbx + 8], xmm1); }, [](G& g) { g.pshufd(xmm1, g.ptr[rbx + 8], 0); }}) {
        GuestRun r = run(e, in);
        expect_fault(r, kGp, in);
        EXPECT_EQ(r.error, 0u);
    }
    // Unaligned moves and scalar operands have no alignment rule.
    for (const Emit& e : std::vector<Emit>{[](G& g) { g.movups(xmm1, g.ptr[rbx + 8]); },
                                           [](G& g) { g.movdqu(g.ptr[rbx + 3], xmm1); },
                                           [](G& g) { g.addsd(xmm1, g.ptr[rbx + 3]); }})
        EXPECT_FALSE(run(e, in).faulted);
}

TEST(EmuSseFault, UnmaskedSimdException) {
    FpState in = base_state();
    const double one = 1.0, zero = 0.0;
    std::memcpy(in.fx.xmm[1], &one, 8);
    std::memcpy(in.fx.xmm[2], &zero, 8);
    in.fx.mxcsr = 0x1f80 & ~0x200u;   // divide-by-zero unmasked
    const Emit div = [](G& g) { g.divsd(xmm1, xmm2); };
    GuestRun r = run(div, in);
    expect_fault(r, kXm, in);
    EXPECT_EQ(r.out.fx.mxcsr, in.fx.mxcsr | 0x4u);   // ZE recorded, destination unchanged
    r = run(div, in, kCr0Default, kCr4Default & ~hv::kCr4Osxmmexcpt);
    expect_fault(r, kUd, in);
    // Masked: the flag is set and the result (+inf) written, exactly as the host does it.
    in.fx.mxcsr = 0x1f80;
    r = run(div, in);
    ASSERT_FALSE(r.faulted);
    expect_same(r.out, run_host(div, in), "masked divsd");
    EXPECT_EQ(r.out.fx.mxcsr, 0x1f84u);
    // Unmasked precision exception on 1/3: post-computation, flag PE set, no result written.
    const double three = 3.0;
    std::memcpy(in.fx.xmm[2], &three, 8);
    in.fx.mxcsr = 0x1f80 & ~0x1000u;
    r = run(div, in);
    expect_fault(r, kXm, in);
    EXPECT_EQ(r.out.fx.mxcsr & 0x3f, 0x20u);
    // COMISD raises #I for a QNaN, UCOMISD does not.
    const uint64_t qnan = 0x7ff8000000000000ULL;
    std::memcpy(in.fx.xmm[2], &qnan, 8);
    in.fx.mxcsr = 0x1f80 & ~0x80u;
    expect_fault(run([](G& g) { g.comisd(xmm1, xmm2); }, in), kXm, in);
    EXPECT_FALSE(run([](G& g) { g.ucomisd(xmm1, xmm2); }, in).faulted);
}

TEST(EmuSseFault, LdmxcsrStmxcsr) {
    FpState in = base_state();
    uint32_t v = 0x7f80 | 0x23;   // masks, RC=up... flags PE IE
    std::memcpy(in.mem, &v, 4);
    GuestRun r = run([](G& g) { g.ldmxcsr(g.ptr[rbx]); }, in);
    ASSERT_FALSE(r.faulted);
    EXPECT_EQ(r.out.fx.mxcsr, v);
    in.fx.mxcsr = 0x9fc0 & 0xffbf;
    r = run([](G& g) { g.stmxcsr(g.ptr[rbx + 8]); }, in);
    ASSERT_FALSE(r.faulted);
    uint32_t stored;
    std::memcpy(&stored, r.out.mem + 8, 4);
    EXPECT_EQ(stored, in.fx.mxcsr);
    for (uint32_t bad : {0x10000u, 0x80000000u, 0x1f80u | ~sse::mxcsr_mask()}) {   // bits outside MXCSR_MASK
        std::memcpy(in.mem, &bad, 4);
        r = run([](G& g) { g.ldmxcsr(g.ptr[rbx]); }, in);
        expect_fault(r, kGp, in);
        EXPECT_EQ(r.out.fx.mxcsr, in.fx.mxcsr);
    }
}

TEST(EmuSseFault, UnimplementedExtensionsAreUndefined) {
    // SSE4.1 and AVX are not implemented (nor reported by CPUID): #UD, never a wrong result.
    const FpState in = base_state();
    expect_fault(run([](G& g) { g.pminsb(xmm1, xmm2); }, in), kUd, in);
    expect_fault(run([](G& g) { g.ptest(xmm1, xmm2); }, in), kUd, in);
    expect_fault(run([](G& g) { g.vaddps(xmm1, xmm2, xmm3); }, in), kUd, in);
}

TEST(EmuSseFault, PageFaultOnStoreLeavesNoTrace) {
    // A store to an unmapped address (beyond the 4 MiB identity map) faults with #PF and CR2.
    FpState in = base_state();
    in.gpr[hv::RAX] = 0x40000000;
    GuestRun r = run([](G& g) { g.movdqu(g.ptr[rax], xmm1); }, in);
    expect_fault(r, kPfv, in);
    EXPECT_EQ(r.error & 3, 2u);   // not present, write
    r = run([](G& g) { g.paddd(xmm3, g.ptr[rax]); }, in);
    expect_fault(r, kPfv, in);
    EXPECT_EQ(r.error & 3, 0u);
}

}  // namespace
}  // namespace popek::emu::test
