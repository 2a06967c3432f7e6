// FPU/SSE state instructions: FXSAVE/FXRSTOR (layout of SDM Vol. 1 table 10-2, checked field by
// field and against this host's FXSAVE), FNSTENV/FLDENV, FNSAVE/FRSTOR, and the #NM/#MF/#GP rules.
#include <cpuid.h>

#include "emu_fp_harness.h"
#include "emu/interp/sse_common.h"
#include "emu/interp/x87_common.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

GuestRun run(const Emit& e, const FpState& in, uint64_t cr0 = kCr0Default) {
    return fp_machine().run(assemble(e), in, cr0);
}

/// A state with every field distinct: TOP=5, three registers in use, some XMM patterns.
FpState known_state() {
    std::mt19937_64 rng(99);
    FpState s = random_state(rng);
    s.fx.fcw = 0x027f;
    s.fx.fsw = static_cast<uint16_t>((5u << 11) | x87::kFswC1 | x87::kFswC3);
    s.fx.ftw = static_cast<uint8_t>((1u << 5) | (1u << 6) | (1u << 7));
    const long double vals[3] = {1.5L, -3.25L, 1e300L};
    for (int k = 0; k < 3; ++k) std::memcpy(s.fx.st[k], &vals[k], 10);
    s.fx.mxcsr = 0x1f80 | (2u << 13) | 0x21;
    for (int k = 0; k < 16; ++k)
        for (int b = 0; b < 16; ++b) s.fx.xmm[k][b] = static_cast<uint8_t>(k * 16 + b);
    std::memset(s.mem, 0xa5, sizeof(s.mem));
    return s;
}

TEST(EmuX87State, FxsaveLayout) {
    const FpState in = known_state();
    const Emit e = [](G& g) { emit_bytes(g, {0x0f, 0xae, 0x03}); };   // fxsave [rbx]
    GuestRun r = run(e, in);
    ASSERT_FALSE(r.faulted);
    const uint8_t* m = r.out.mem;
    EXPECT_EQ(x87::get16(m + 0), in.fx.fcw);
    EXPECT_EQ(x87::get16(m + 2), in.fx.fsw);
    EXPECT_EQ(m[4], in.fx.ftw);
    EXPECT_EQ(x87::get32(m + 24), in.fx.mxcsr);
    EXPECT_EQ(x87::get32(m + 28), sse::mxcsr_mask());
    EXPECT_EQ(sse::mxcsr_mask() & 0xffbf, 0xffbfu);
    for (int k = 0; k < 8; ++k) {
        EXPECT_EQ(0, std::memcmp(m + 32 + 16 * k, in.fx.st[k], 10)) << "ST" << k;
        for (int b = 10; b < 16; ++b) EXPECT_EQ(m[32 + 16 * k + b], 0) << "ST" << k << " reserved";
    }
    for (int k = 0; k < 16; ++k) EXPECT_EQ(0, std::memcmp(m + 160 + 16 * k, in.fx.xmm[k], 16)) << "XMM" << k;
    for (int b = 416; b < 512; ++b) EXPECT_EQ(m[b], 0xa5) << "byte " << b << " is reserved/for software";
    // Same bytes as this host's FXSAVE (FIP/FOP/FDP aside: bytes 6-23).
    const FpState h = run_host(e, in);
    EXPECT_EQ(0, std::memcmp(m, h.mem, 6));
    EXPECT_EQ(0, std::memcmp(m + 24, h.mem + 24, 512 - 24));
}

TEST(EmuX87State, FxrstorRoundTrip) {
    std::mt19937_64 rng(5);
    for (int n = 0; n < 50; ++n) {
        FpState src = random_state(rng);
        src.fx.fcw = static_cast<uint16_t>(0x1040 | (rng() & 0xf3f));
        src.fx.fsw = static_cast<uint16_t>(rng() & 0x7f7f);
        src.fx.ftw = static_cast<uint8_t>(rng());
        for (auto& st : src.fx.st)
            for (int b = 0; b < 10; ++b) st[b] = static_cast<uint8_t>(rng());
        // The host writes an image of `src` with FXSAVE; the engine loads it with FXRSTOR.
        FpState img = run_host([](G& g) { emit_bytes(g, {0x0f, 0xae, 0x03}); }, src);
        FpState in = random_state(rng);
        std::memcpy(in.mem, img.mem, 512);
        const Emit fxrstor = [](G& g) { g.fxrstor(g.ptr[rbx]); };
        GuestRun r = run(fxrstor, in);
        ASSERT_FALSE(r.faulted);
        expect_same(r.out, run_host(fxrstor, in), "fxrstor");   // ES/B recomputed like the host
        EXPECT_EQ(r.out.fx.fcw, src.fx.fcw);
        EXPECT_EQ(r.out.fx.fsw & 0x7f7f, src.fx.fsw);
        EXPECT_EQ(r.out.fx.ftw, src.fx.ftw);
        EXPECT_EQ(r.out.fx.mxcsr, src.fx.mxcsr);
        for (int k = 0; k < 8; ++k) EXPECT_EQ(0, std::memcmp(r.out.fx.st[k], src.fx.st[k], 10));
        EXPECT_EQ(0, std::memcmp(r.out.fx.xmm, src.fx.xmm, sizeof(src.fx.xmm)));
        // And back: the engine's FXSAVE64 of that state equals the image (but FIP/FOP/FDP).
        GuestRun s = fp_machine().run(assemble([](G& g) { emit_bytes(g, {0x48, 0x0f, 0xae, 0x83}); g.dd(512); }), r.out);
        ASSERT_FALSE(s.faulted);
        EXPECT_EQ(0, std::memcmp(s.out.mem + 512, img.mem, 6));
        EXPECT_EQ(0, std::memcmp(s.out.mem + 512 + 24, img.mem + 24, 416 - 24));
        // Bytes 416-511 are reserved / for software: neither the host nor the engine writes them.
        EXPECT_EQ(0, std::memcmp(s.out.mem + 512 + 416, r.out.mem + 512 + 416, 96));
    }
}

TEST(EmuX87State, FxsaveFxrstorFaults) {
    FpState in = known_state();
    const auto fxsave_at = [](int disp) { return [disp](G& g) { emit_bytes(g, {0x0f, 0xae, 0x43, static_cast<uint8_t>(disp)}); }; };
    // Misaligned operand: #GP(0), nothing written.
    GuestRun r = run(fxsave_at(8), in);
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, kGp);
    EXPECT_EQ(0, std::memcmp(r.out.mem, in.mem, sizeof(in.mem)));
    // CR0.TS or CR0.EM: #NM.
    r = run(fxsave_at(0), in, kCr0Default | hv::kCr0Ts);
    EXPECT_EQ(r.vector, kNm);
    r = run([](G& g) { g.fxrstor(g.ptr[rbx]); }, in, kCr0Default | hv::kCr0Em);
    EXPECT_EQ(r.vector, kNm);
    // FXRSTOR with reserved MXCSR bits set: #GP(0), state unchanged.
    FpState bad = in;
    std::memcpy(bad.mem, &in.fx, 512);
    x87::put32(bad.mem + 24, 0x1f80 | 0x10000);
    r = run([](G& g) { g.fxrstor(g.ptr[rbx]); }, bad);
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, kGp);
    EXPECT_EQ(r.out.fx.mxcsr, in.fx.mxcsr);
    EXPECT_EQ(r.out.fx.fcw, in.fx.fcw);
}

TEST(EmuX87State, EnvironmentAndSaveAgainstHost) {
    std::mt19937_64 rng(3);
    for (int n = 0; n < 30; ++n) {
        FpState in = known_state();
        in.fx.ftw = static_cast<uint8_t>(rng());
        in.fx.fsw = static_cast<uint16_t>((rng() & 0x3800) | x87::kFswC2);
        for (auto& st : in.fx.st)
            for (int b = 0; b < 10; ++b) st[b] = static_cast<uint8_t>(rng() % 3 == 0 ? 0 : rng());
        for (const Emit& e : std::vector<Emit>{[](G& g) { g.fnstenv(g.ptr[rbx]); }, [](G& g) { g.fnsave(g.ptr[rbx]); }}) {
            GuestRun r = run(e, in);
            ASSERT_FALSE(r.faulted);
            const FpState h = run_host(e, in);
            // FCW FSW FTW (full tags, classified), then the registers; FIP..FDS (12-27) differ.
            EXPECT_EQ(0, std::memcmp(r.out.mem, h.mem, 12));
            EXPECT_EQ(0, std::memcmp(r.out.mem + 28, h.mem + 28, 80));
            EXPECT_EQ(r.out.fx.fcw, h.fx.fcw);   // FNSTENV masks everything, FNSAVE re-inits
            EXPECT_EQ(r.out.fx.fsw, h.fx.fsw);
            EXPECT_EQ(r.out.fx.ftw, h.fx.ftw);
            for (int k = 0; k < 8; ++k) EXPECT_EQ(0, std::memcmp(r.out.fx.st[k], h.fx.st[k], 10));
        }
        // FLDENV / FRSTOR of a host-made image.
        for (const Emit& e : std::vector<Emit>{[](G& g) { g.fldenv(g.ptr[rbx]); }, [](G& g) { g.frstor(g.ptr[rbx]); }}) {
            FpState img = run_host([](G& g) { g.fnsave(g.ptr[rbx]); }, in);
            FpState target = known_state();
            std::memcpy(target.mem, img.mem, 108);
            GuestRun r = run(e, target);
            ASSERT_FALSE(r.faulted);
            const FpState h = run_host(e, target);
            EXPECT_EQ(r.out.fx.fcw, h.fx.fcw);
            EXPECT_EQ(r.out.fx.fsw, h.fx.fsw);
            EXPECT_EQ(r.out.fx.ftw, h.fx.ftw);
            for (int k = 0; k < 8; ++k) EXPECT_EQ(0, std::memcmp(r.out.fx.st[k], h.fx.st[k], 10)) << "ST" << k;
        }
    }
}

TEST(EmuX87State, DeviceNotAvailableAndPendingExceptions) {
    FpState in = known_state();
    const Emit fadd = [](G& g) { g.fadd(st0, st1); };
    EXPECT_EQ(run(fadd, in, kCr0Default | hv::kCr0Ts).vector, kNm);
    EXPECT_EQ(run(fadd, in, kCr0Default | hv::kCr0Em).vector, kNm);
    EXPECT_EQ(run([](G& g) { g.fninit(); }, in, kCr0Default | hv::kCr0Ts).vector, kNm);
    // FWAIT: #NM only with MP and TS together.
    EXPECT_EQ(run([](G& g) { g.fwait(); }, in, (kCr0Default | hv::kCr0Ts)).vector, kNm);
    EXPECT_FALSE(run([](G& g) { g.fwait(); }, in, (kCr0Default | hv::kCr0Ts) & ~hv::kCr0Mp).faulted);
    // A pending unmasked exception (FSW.ES): waiting instructions #MF, FN* ones do not.
    in.fx.fcw = 0x037e;   // IE unmasked
    in.fx.fsw = static_cast<uint16_t>(in.fx.fsw | 1 | x87::kFswEs | x87::kFswB);
    GuestRun r = run(fadd, in);
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, kMf);
    EXPECT_EQ(0, std::memcmp(r.out.fx.st, in.fx.st, sizeof(in.fx.st)));
    EXPECT_EQ(run([](G& g) { g.fwait(); }, in).vector, kMf);
    r = run([](G& g) { g.fnstsw(ax); }, in);
    ASSERT_FALSE(r.faulted);
    EXPECT_EQ(r.out.gpr[hv::RAX] & 0xffff, in.fx.fsw);
    r = run([](G& g) { g.fnclex(); g.fadd(st0, st1); }, in);
    EXPECT_FALSE(r.faulted);
    // An instruction that raises an unmasked exception sets ES and leaves ST0 alone; the next
    // waiting instruction takes #MF (SDM Vol. 1 8.6).
    FpState inv = known_state();
    inv.fx.fcw = 0x037e;
    const uint64_t snan_mant = (1ULL << 63) | 1;
    std::memcpy(inv.fx.st[0], &snan_mant, 8);
    x87::put16(inv.fx.st[0] + 8, 0x7fff);
    r = run([](G& g) { g.fadd(st0, st1); }, inv);
    ASSERT_FALSE(r.faulted);
    EXPECT_TRUE(r.out.fx.fsw & x87::kFswEs);
    EXPECT_EQ(0, std::memcmp(r.out.fx.st[0], inv.fx.st[0], 10));
    r = run([](G& g) { g.fadd(st0, st1); g.fwait(); }, inv);
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, kMf);
}

}  // namespace
}  // namespace popek::emu::test

namespace popek::emu::test {
namespace {

TEST(EmuFpCpuid, ReportsExactlyTheImplementedFpFeatures) {
    FpState in;
    GuestRun r = fp_machine().run(assemble([](Xbyak::CodeGenerator& g) {
        g.mov(Xbyak::util::eax, 1);
        g.cpuid();
    }), in);
    ASSERT_FALSE(r.faulted);
    const uint64_t edx = r.out.gpr[hv::RDX], ecx = r.out.gpr[hv::RCX];
    for (unsigned bit : {0u, 23u, 24u, 25u, 26u}) EXPECT_TRUE(edx & (1u << bit)) << "EDX bit " << bit;   // FPU MMX FXSR SSE SSE2
    unsigned a, b, host_ecx, d;
    ASSERT_TRUE(__get_cpuid(1, &a, &b, &host_ecx, &d));
    EXPECT_EQ(ecx & 1, host_ecx & 1);                      // SSE3 when the host can run it
    EXPECT_EQ(ecx & (1u << 9), host_ecx & (1u << 9));      // SSSE3
    for (unsigned bit : {3u, 12u, 19u, 20u, 26u, 27u, 28u, 29u})   // MONITOR FMA SSE4.1 SSE4.2 XSAVE OSXSAVE AVX F16C
        EXPECT_FALSE(ecx & (1u << bit)) << "ECX bit " << bit;
}

}  // namespace
}  // namespace popek::emu::test
