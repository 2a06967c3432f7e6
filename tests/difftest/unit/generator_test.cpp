// The generator: reproducible, every recorded instruction decodes to its recorded length, and the
// RFLAGS model agrees with Zydis's per-instruction flag tables where those are count-independent.
#include <Zydis/Zydis.h>
#include <gtest/gtest.h>

#include <set>

#include "flags.h"
#include "generator.h"
#include "triage.h"

namespace popek::difftest {
namespace {

struct Decoded {
    ZydisDecodedInstruction info;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

Decoded decode(const Case& c, const InsnRecord& r) {
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    Decoded d{};
    EXPECT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, c.code.data() + r.offset, r.length, &d.info, d.ops)))
        << "seed " << c.seed << " offset " << r.offset;
    return d;
}

bool count_dependent(ZydisMnemonic m) {
    switch (m) {
        case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR:
        case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_SHLD:
        case ZYDIS_MNEMONIC_SHRD: case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
        case ZYDIS_MNEMONIC_CMPSQ: case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
        case ZYDIS_MNEMONIC_SCASQ:
            return true;
        default:
            return false;
    }
}

TEST(DifftestGenerator, SameSeedSameCase) {
    const GeneratorOptions opt{40, ""};
    for (uint64_t seed : {1ull, 42ull, 0xdeadbeefull}) {
        const Case a = generate_case(seed, opt), b = generate_case(seed, opt);
        EXPECT_EQ(a.code, b.code);
        EXPECT_EQ(a.data, b.data);
        EXPECT_EQ(a.initial.gpr, b.initial.gpr);
        EXPECT_EQ(a.initial.rflags, b.initial.rflags);
        EXPECT_EQ(a.insns.size(), b.insns.size());
    }
    EXPECT_NE(generate_case(1, opt).code, generate_case(2, opt).code);
}

TEST(DifftestGenerator, ReservedRegistersAndLayout) {
    for (uint64_t seed = 0; seed < 200; ++seed) {
        const Case c = generate_case(seed, {16, ""});
        EXPECT_EQ(c.initial.gpr[4], kInitialRsp);
        EXPECT_EQ(c.initial.gpr[static_cast<size_t>(c.base_reg)], kBaseValue);
        EXPECT_EQ(c.initial.rip, kCodeAddr);
        EXPECT_EQ(c.data.size(), kDataSize);
        EXPECT_NE(c.base_reg, 4);
        EXPECT_EQ(c.initial.rflags & ~uint64_t{kStatusFlags | kDF}, kFixedFlags);
    }
}

TEST(DifftestGenerator, RecordsTileTheCodeAndDecode) {
    for (uint64_t seed = 0; seed < 3000; ++seed) {
        const Case c = generate_case(seed, {40, ""});
        uint32_t expect = 0;
        for (const InsnRecord& r : c.insns) {
            ASSERT_EQ(r.offset, expect) << "seed " << seed;
            const Decoded d = decode(c, r);
            ASSERT_EQ(d.info.length, r.length) << "seed " << seed << " at " << r.offset << " (" << r.origin << ")";
            expect += r.length;
        }
        ASSERT_EQ(expect, c.code.size());
    }
}

TEST(DifftestGenerator, FlagModelAgreesWithZydis) {
    // (a) every status flag Zydis says an instruction tests is one the model makes defined first;
    // (b) the model never claims a flag the instruction does not touch;
    // (c) for count-independent instructions, every flag Zydis calls undefined is undefined in the model.
    std::set<std::string> seen;
    for (uint64_t seed = 0; seed < 3000; ++seed) {
        const Case c = generate_case(seed, {40, ""});
        for (const InsnRecord& r : c.insns) {
            const Decoded d = decode(c, r);
            const ZydisAccessedFlags* f = d.info.cpu_flags;
            if (f == nullptr) continue;
            const char* name = ZydisMnemonicGetString(d.info.mnemonic);
            seen.insert(name);
            const uint32_t tested = f->tested & kStatusFlags;
            const uint32_t touched = (f->modified | f->set_0 | f->set_1 | f->undefined) & kStatusFlags;
            const bool rep = d.info.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
            if (!rep) {
                EXPECT_EQ(tested & ~r.effect.reads, 0u) << name << " seed " << seed;
                EXPECT_EQ(tested & ~r.defined_before, 0u) << name << " reads an undefined flag, seed " << seed;
            }
            EXPECT_EQ((r.effect.writes | r.effect.undefined) & ~touched, 0u) << name << " seed " << seed;
            // Zydis 4.0 lists SBB's AF as undefined; SDM Vol. 2B "SBB" sets AF from the result.
            const uint32_t zydis_undefined =
                f->undefined & kStatusFlags & ~(d.info.mnemonic == ZYDIS_MNEMONIC_SBB ? kAF : 0u);
            if (!count_dependent(d.info.mnemonic)) {
                EXPECT_EQ(zydis_undefined & ~r.effect.undefined, 0u) << name << " seed " << seed;
            }
        }
    }
    // The table covers the integer ISA the brief lists.
    for (const char* m : {"mov", "movzx", "movsx", "movsxd", "lea", "xchg", "xadd", "cmpxchg", "cmpxchg16b",
                          "cmpxchg8b", "add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test", "inc", "dec",
                          "neg", "not", "shl", "shr", "sar", "rol", "ror", "rcl", "rcr", "shld", "shrd", "mul",
                          "imul", "div", "idiv", "bt", "bts", "btr", "btc", "bsf", "bsr", "bswap", "lahf", "sahf",
                          "pushfq", "popfq", "push", "pop", "cbw", "cqo", "movsb", "stosq", "lodsw", "cmpsd", "scasb"})
        EXPECT_TRUE(seen.count(m)) << m << " never generated";
}

TEST(DifftestFlags, ShiftEffects) {
    EXPECT_EQ(shift_effect(ShiftOp::Shl, 32, 0).writes, 0u);
    EXPECT_EQ(shift_effect(ShiftOp::Shl, 32, 32).writes, 0u);  // masked to 0
    EXPECT_EQ(shift_effect(ShiftOp::Shl, 32, 1).writes, kStatusFlags & ~kAF);
    EXPECT_EQ(shift_effect(ShiftOp::Shl, 32, 2).undefined, kAF | kOF);
    EXPECT_EQ(shift_effect(ShiftOp::Shl, 8, 9).undefined, kAF | kOF | kCF);   // count >= size
    EXPECT_EQ(shift_effect(ShiftOp::Sar, 8, 9).undefined, kAF | kOF);         // SAR keeps CF
    EXPECT_EQ(shift_effect(ShiftOp::Shl, 64, 63).undefined, kAF | kOF);
    EXPECT_EQ(shift_effect(ShiftOp::Rol, 8, 1).writes, kCF | kOF);
    EXPECT_EQ(shift_effect(ShiftOp::Rol, 8, 9).undefined, kOF);
    EXPECT_EQ(shift_effect(ShiftOp::Rcl, 8, 9).writes, 0u);   // 9 mod 9 = 0: CF unchanged
    EXPECT_EQ(shift_effect(ShiftOp::Rcl, 8, 9).reads, kCF);
    EXPECT_EQ(double_shift_effect(16, 17).undefined, kStatusFlags);
    EXPECT_EQ(double_shift_effect(32, 1).writes, kStatusFlags & ~kAF);
    EXPECT_EQ(condition_reads(0xf), kZF | kSF | kOF);  // G
    EXPECT_EQ(condition_reads(0x2), kCF);              // B
}

TEST(DifftestFlags, TrackerRedefines) {
    FlagTracker t;
    t.apply(FlagEffect::divide());
    EXPECT_FALSE(t.can_read(kCF));
    t.apply({0, kCF, 0});
    EXPECT_TRUE(t.can_read(kCF));
    EXPECT_FALSE(t.can_read(kZF));
    t.apply(FlagEffect::arith());
    EXPECT_EQ(t.defined(), kStatusFlags);
}

}  // namespace
}  // namespace popek::difftest

namespace popek::difftest {
namespace {

TEST(DifftestTriage, PrefixCaseEndsBeforeTheNextInstruction) {
    const Case c = generate_case(7, {20, ""});
    ASSERT_GT(c.insns.size(), 3u);
    const Case p = prefix_case(c, 3);
    EXPECT_EQ(p.insns.size(), 3u);
    EXPECT_EQ(p.code.size(), c.insns[3].offset);
    EXPECT_TRUE(std::equal(p.code.begin(), p.code.end(), c.code.begin()));
    EXPECT_EQ(p.defined_at_end, c.insns[3].defined_before);
    EXPECT_EQ(p.tail_addr(), kCodeAddr + c.insns[3].offset);
    const Case whole = prefix_case(c, c.insns.size());
    EXPECT_EQ(whole.code, c.code);
    EXPECT_EQ(whole.defined_at_end, c.defined_at_end);
}

}  // namespace
}  // namespace popek::difftest
