// The runners and the comparison: hand-written sequences with known results on the host CPU,
// faults reported as vectors, planted differences detected, and (where /dev/kvm works) the same
// results from the KVM engine.
#include <gtest/gtest.h>

#include <functional>

#include "compare.h"
#include "engine_runner.h"
#include "gen_context.h"
#include "native_runner.h"

namespace popek::difftest {
namespace {

using Emit = std::function<void(Xbyak::CodeGenerator&)>;

/// A case from hand-written instructions, one lambda per instruction; every flag counts as
/// defined (the sequences below end with a flag-setting instruction).
Case hand_case(std::initializer_list<Emit> body, RegFile regs = {}) {
    Case c;
    std::vector<uint8_t> buf(4096);
    Xbyak::CodeGenerator cg(buf.size(), buf.data());
    for (const Emit& e : body) {
        const size_t start = cg.getSize();
        e(cg);
        c.insns.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(cg.getSize() - start),
                           FlagEffect::arith(), kStatusFlags, "hand"});
    }
    EXPECT_EQ(Xbyak::GetError(), 0);
    c.code.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(cg.getSize()));
    c.base_reg = 3;
    c.initial = regs;
    c.initial.gpr[4] = kInitialRsp;
    c.initial.gpr[3] = kBaseValue;
    c.initial.rip = kCodeAddr;
    c.initial.rflags = kFixedFlags;
    c.data.assign(kDataSize, 0x5a);
    c.defined_at_end = kStatusFlags;
    return c;
}

NativeRunner& native() {
    static NativeRunner runner = [] {
        auto r = NativeRunner::create();
        if (!r) ADD_FAILURE() << r.error().message;
        return std::move(*r);
    }();
    return runner;
}

Case add_case() {
    RegFile regs;
    regs.gpr[1] = 7;  // rcx
    return hand_case({[](auto& c) { c.mov(c.eax, 5); },
                      [](auto& c) { c.mov(c.qword[reinterpret_cast<void*>(kDataAddr + 16)], c.rax); },
                      [](auto& c) { c.push(c.rcx); },
                      [](auto& c) { c.add(c.rax, c.rcx); }},
                     regs);
}

Case divide_error_case() {
    RegFile regs;
    regs.gpr[0] = 1234;  // rax
    regs.gpr[1] = 0;     // rcx: divisor
    return hand_case({[](auto& c) { c.mov(c.edx, 0u); }, [](auto& c) { c.div(c.rcx); },
                      [](auto& c) { c.add(c.rax, c.rax); }},
                     regs);
}

TEST(DifftestNative, ComputesAndWrites) {
    const Case c = add_case();
    auto out = native().run(c);
    ASSERT_TRUE(out) << out.error().message;
    ASSERT_EQ(out->kind, EndKind::Completed) << describe_end(*out);
    EXPECT_EQ(out->regs.gpr[0], 12u);
    EXPECT_EQ(out->regs.gpr[4], kInitialRsp - 8);
    EXPECT_EQ(out->regs.rip, c.tail_addr());
    EXPECT_EQ(out->regs.rflags & (kCF | kZF | kSF), 0u);
    EXPECT_EQ(out->data[16], 5);
    EXPECT_EQ(out->data[17], 0);
    EXPECT_EQ(out->data[kInitialRsp - 8 - kDataAddr], 7);
    EXPECT_EQ(out->data[100], 0x5a);
}

TEST(DifftestNative, DivideErrorIsVectorZeroAtTheDiv) {
    const Case c = divide_error_case();
    for (int i = 0; i < 50; ++i) {  // the child survives repeated faults
        auto out = native().run(c);
        ASSERT_TRUE(out) << out.error().message;
        ASSERT_EQ(out->kind, EndKind::Exception);
        EXPECT_EQ(out->vector, 0);
        EXPECT_EQ(out->regs.rip, kCodeAddr + c.insns[1].offset);
        EXPECT_EQ(out->regs.gpr[0], 1234u);
        EXPECT_EQ(out->regs.gpr[2], 0u);
    }
    auto ok = native().run(add_case());
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->kind, EndKind::Completed);
}

TEST(DifftestNative, GeneratedCasesStayInTheirMemoryAndRepeat) {
    // Every memory operand points into the buffer: no case may fault except #DE (division) and
    // #GP from the rare misaligned CMPXCHG16B and m128 SSE operands the generator makes on purpose.
    for (uint64_t seed = 0; seed < 1500; ++seed) {
        const Case c = generate_case(seed, {32, ""});
        auto a = native().run(c);
        ASSERT_TRUE(a) << a.error().message;
        ASSERT_NE(a->kind, EndKind::HarnessError) << "seed " << seed << ": " << a->detail;
        if (a->kind == EndKind::Exception) {
            const InsnRecord* r = c.insn_at(a->regs.rip);
            ASSERT_NE(r, nullptr) << "seed " << seed;
            const bool ok = a->vector == 0 || (a->vector == 13 && (r->origin == "cmpxchg16b" || r->origin == "sse misaligned"));
            EXPECT_TRUE(ok) << "seed " << seed << ": " << describe_end(*a) << "\n" << disassemble(c, a->regs.rip);
        }
        if (seed % 10 == 0) {
            auto b = native().run(c);
            ASSERT_TRUE(b);
            EXPECT_TRUE(compare_outcomes(c, *a, *b).empty()) << "seed " << seed << " not deterministic";
        }
    }
}

TEST(DifftestCompare, DetectsPlantedDifferences) {
    Case c = add_case();
    auto base = native().run(c);
    ASSERT_TRUE(base);
    EXPECT_TRUE(compare_outcomes(c, *base, *base).empty());

    Outcome reg = *base;
    reg.regs.gpr[13] ^= 1u << 20;
    auto d = compare_outcomes(c, *base, reg);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].find("r13"), std::string::npos) << d[0];

    Outcome mem = *base;
    mem.data[kBufferSize + 5] ^= 0xff;
    d = compare_outcomes(c, *base, mem);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].find("stack +0x5"), std::string::npos) << d[0];

    Outcome flags = *base;
    flags.regs.rflags ^= kAF;
    EXPECT_EQ(compare_outcomes(c, *base, flags).size(), 1u);
    c.defined_at_end = kStatusFlags & ~kAF;  // an undefined flag may differ
    EXPECT_TRUE(compare_outcomes(c, *base, flags).empty());
    flags.regs.rflags ^= kDF;  // DF is always compared
    EXPECT_EQ(compare_outcomes(c, *base, flags).size(), 1u);

    Outcome fault = *base;
    fault.kind = EndKind::Exception;
    fault.vector = 6;
    d = compare_outcomes(c, *base, fault);
    ASSERT_FALSE(d.empty());
    EXPECT_NE(d[0].find("exception 6"), std::string::npos) << d[0];

    Outcome broken = *base;
    broken.kind = EndKind::HarnessError;
    broken.detail = "engine gone";
    EXPECT_FALSE(compare_outcomes(c, *base, broken).empty());
}

TEST(DifftestCompare, FaultComparesFlagsDefinedBeforeTheFaultingInstruction) {
    Case c = divide_error_case();
    auto n = native().run(c);
    ASSERT_TRUE(n);
    ASSERT_EQ(n->kind, EndKind::Exception);
    c.insns[1].defined_before = kStatusFlags & ~kZF;
    Outcome e = *n;
    e.regs.rflags ^= kZF;
    EXPECT_TRUE(compare_outcomes(c, *n, e).empty());
    e.regs.rflags ^= kCF;
    EXPECT_EQ(compare_outcomes(c, *n, e).size(), 1u);
}

/// The KVM engine, or a skip with the reason it cannot be used here.
std::unique_ptr<EngineRunner> kvm_engine() {
    auto r = EngineRunner::create(hv::Accel::Kvm);
    if (!r) return nullptr;
    return std::move(*r);
}

TEST(DifftestKvm, SameResultsAsTheHost) {
    NativeRunner& n = native();  // forked before the engine's watchdog thread starts
    auto engine = kvm_engine();
    if (!engine) GTEST_SKIP() << "KVM not usable: " << EngineRunner::create(hv::Accel::Kvm).error().message;
    for (const Case& c : {add_case(), divide_error_case()}) {
        auto a = n.run(c);
        auto b = engine->run(c);
        ASSERT_TRUE(a && b);
        EXPECT_EQ(a->kind, b->kind) << describe_end(*b);
        EXPECT_EQ(a->vector, b->vector);
        const auto d = compare_outcomes(c, *a, *b);
        EXPECT_TRUE(d.empty()) << d.front();
    }
    // Generated cases, without CMPXCHG: this host's PVM emulator differs there (docs/difftest.md).
    for (uint64_t seed = 0; seed < 300; ++seed) {
        const Case c = generate_case(seed, {16, "-cmpxchg"});
        auto a = n.run(c);
        auto b = engine->run(c);
        ASSERT_TRUE(a && b);
        const auto d = compare_outcomes(c, *a, *b);
        EXPECT_TRUE(d.empty()) << "seed " << seed << ": " << d.front() << "\n" << disassemble(c);
    }
}

}  // namespace
}  // namespace popek::difftest
