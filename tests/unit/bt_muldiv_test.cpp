/// The block translator's native multiply/divide (emu/bt/muldiv_ops.cpp) against the interpreter:
/// MUL/IMUL with one operand, DIV/IDIV at 8/16/32/64 bits from register and memory operands, on
/// edge values (so zero divisors and quotient overflows come up too), CBW/CWDE/CDQE and
/// CWD/CDQ/CQO. A divide error must be raised at the divide itself with nothing changed; each case
/// must really be translated natively.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kDataBuf = 0x30000;   ///< RDI points here (writable RAM)
constexpr uint64_t kEdges[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                               0xffffffff, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff,
                               0x0123456789abcdef, 0xfedcba9876543210, 3, 0x10};
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags, kZf | kOf, kSf | kPf | kAf};
/// MUL/IMUL leave SF ZF AF PF undefined (SDM Vol. 2A IMUL, Vol. 2B MUL "Flags Affected"): the host
/// may take them from its previous flags, which differ between the engines' host code.
constexpr uint64_t kMulUndefined = kSf | kZf | kAf | kPf;

struct Case {
    std::string name;
    SnippetEmit emit;
    unsigned native;          ///< instructions of the snippet translated natively
    uint64_t undefined = 0;   ///< RFLAGS bits not compared
};

/// Every case from every rotation of the edge values through the GPRs (RDI: the data buffer,
/// filled from the rotation) and every flag set; returns how many runs faulted on the interpreter.
unsigned check_cases(const std::vector<Case>& cases, bool protected32 = false) {
    BtPair p(protected32);
    constexpr size_t n = std::size(kEdges);
    unsigned faults = 0;
    if (!protected32) {   // the exception handler's block translated now, not counted with a case
        p.load(assemble_with_hlt([](G& g) { g.ud2(); }));
        const uint64_t none[16] = {};
        EXPECT_TRUE(p.same(none, 0));
        EXPECT_TRUE(p.bt.reported());
    }
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        p.load(assemble_with_hlt(c.emit));
        const uint64_t native_before = p.stats().native_insns;
        for (size_t rot = 0; rot < n; ++rot) {
            uint64_t gpr[16];
            for (size_t i = 0; i < 16; ++i) gpr[i] = kEdges[(i + rot) % n];
            gpr[hv::RDI] = kDataBuf;
            for (EmuHarness* h : {&p.interp, &p.bt})
                for (size_t k = 0; k < 4; ++k) h->poke<uint64_t>(kDataBuf + 8 * k, kEdges[(rot + 3 * k + 1) % n]);
            for (uint64_t f : kFlagSets) {
                EXPECT_TRUE(p.same(gpr, f, c.undefined)) << "rotation " << rot;
                if (p.interp.reported()) ++faults;
            }
        }
        EXPECT_EQ(p.stats().native_insns - native_before, c.native) << "not translated natively";
    }
    return faults;
}

TEST(BtMulDiv, MulAndImulOneOperandEverySize) {
    std::vector<Case> cases;
    const Xbyak::Reg sources[] = {cl, ah, bh, r9b, cx, r10w, ax, ecx, r11d, edx, rcx, r15, rax, rdx};
    for (const Xbyak::Reg& s : sources) {
        cases.push_back({std::string("mul ") + s.toString(), [s](G& g) { g.mul(s); }, 1, kMulUndefined});
        cases.push_back({std::string("imul ") + s.toString(), [s](G& g) { g.imul(s); }, 1, kMulUndefined});
    }
    // A producer before (the guest flags live in the host) and a flag reader after.
    cases.push_back({"add; mul rcx; setc bl", [](G& g) { g.add(rsi, r8); g.mul(rcx); g.setc(bl); }, 3, kMulUndefined});
    cases.push_back({"imul r9d; adc esi,0", [](G& g) { g.imul(r9d); g.adc(esi, 0); }, 2, kMulUndefined});
    check_cases(cases);
}

TEST(BtMulDiv, DivAndIdivEverySizeIncludingFaults) {
    // DIV leaves every flag undefined: the interpreter keeps them, so must bt (all compared).
    std::vector<Case> cases;
    const Xbyak::Reg divisors[] = {cl, bh, ah, r9b, cx, r10w, dx, ecx, r11d, eax, rcx, r15, rdx, rax};
    for (const Xbyak::Reg& d : divisors) {
        cases.push_back({std::string("div ") + d.toString(), [d](G& g) { g.div(d); }, 1});
        cases.push_back({std::string("idiv ") + d.toString(), [d](G& g) { g.idiv(d); }, 1});
    }
    // Prepared dividends (the compilers' forms), after a flag producer whose flags must survive.
    cases.push_back({"xor edx,edx; div rcx", [](G& g) { g.xor_(edx, edx); g.div(rcx); }, 2});
    cases.push_back({"cqo; idiv r8", [](G& g) { g.cqo(); g.idiv(r8); }, 2});
    cases.push_back({"cdq; idiv ecx", [](G& g) { g.cdq(); g.idiv(ecx); }, 2});
    cases.push_back({"cwd; idiv si", [](G& g) { g.cwd(); g.idiv(si); }, 2});
    cases.push_back({"cbw; idiv bl", [](G& g) { g.cbw(); g.idiv(bl); }, 2});
    cases.push_back({"sub; movzx eax,al; div cl; setz dl",
                     [](G& g) { g.sub(r12, r13); g.movzx(eax, al); g.div(cl); g.setz(dl); }, 4});
    cases.push_back({"add; cqo; idiv rbx; adc rsi,rdi", [](G& g) { g.add(rsi, rdi); g.cqo(); g.idiv(rbx); g.adc(rsi, rdi); }, 4});
    const unsigned faults = check_cases(cases);
    EXPECT_GT(faults, 100u) << "the edge values must raise #DE often (zero divisors, overflows)";
}

TEST(BtMulDiv, MemoryOperands) {
    std::vector<Case> cases = {
        {"div qword [rdi]", [](G& g) { g.div(qword[rdi]); }, 1},
        {"idiv qword [rdi+8]", [](G& g) { g.cqo(); g.idiv(qword[rdi + 8]); }, 2},
        {"div dword [rdi+4]", [](G& g) { g.div(dword[rdi + 4]); }, 1},
        {"idiv word [rdi+16]", [](G& g) { g.idiv(word[rdi + 16]); }, 1},
        {"div byte [rdi+3]", [](G& g) { g.div(byte[rdi + 3]); }, 1},
        {"mul qword [rdi+24]", [](G& g) { g.mul(qword[rdi + 24]); }, 1, kMulUndefined},
        {"imul dword [rdi+rsi*0+12]", [](G& g) { g.imul(dword[rdi + 12]); }, 1, kMulUndefined},
        {"mul byte [rdi+9]", [](G& g) { g.mul(byte[rdi + 9]); }, 1, kMulUndefined},
    };
    check_cases(cases);
    // Flat 32-bit code has the same inline paths for DS/ES/SS.
    auto raw = [](std::vector<uint8_t> bytes) { return [bytes](G& g) { for (uint8_t b : bytes) g.db(b); }; };
    std::vector<Case> flat = {   // 32-bit encodings (xbyak assembles 64-bit code)
        {"div dword [edi] (32-bit code)", raw({0xf7, 0x37}), 1},
        {"idiv dword [edi+8] (32-bit code)", raw({0x99, 0xf7, 0x7f, 0x08}), 2},
        {"mul word [edi+2] (32-bit code)", raw({0x66, 0xf7, 0x67, 0x02}), 1, kMulUndefined},
        {"div dword fs:[edi] (FS: the handler)", raw({0x64, 0xf7, 0x37}), 0},
    };
    check_cases(flat, true);
}

TEST(BtMulDiv, AccumulatorExtensions) {
    check_cases({
        {"cbw", [](G& g) { g.cbw(); }, 1},
        {"cwde", [](G& g) { g.cwde(); }, 1},
        {"cdqe", [](G& g) { g.cdqe(); }, 1},
        {"cwd", [](G& g) { g.cwd(); }, 1},
        {"cdq", [](G& g) { g.cdq(); }, 1},
        {"cqo", [](G& g) { g.cqo(); }, 1},
        {"add; cqo; adc", [](G& g) { g.add(rax, rcx); g.cqo(); g.adc(rsi, rdx); }, 3},
    });
}

TEST(BtMulDiv, DivideErrorAtTheDivideWithNothingChanged) {
    // #DE (SDM Vol. 2A DIV/IDIV) for a zero divisor and for a quotient that does not fit, from
    // translated code: the vector's handler sees the divide's own RIP, every register as before it
    // (RAX/RDX not written), the flags of the instructions before it, the same count.
    struct Fault {
        const char* name;
        SnippetEmit emit;
        uint64_t rax, rdx, rcx, rbx = 0;
        ZydisMnemonic mnemonic = ZYDIS_MNEMONIC_DIV;
    };
    const Fault faults[] = {
        {"div rcx by 0", [](G& g) { g.div(rcx); }, 5, 0, 0},
        {"div ecx overflow", [](G& g) { g.div(ecx); }, 0, 7, 7},
        {"div cx overflow", [](G& g) { g.div(cx); }, 0, 0x10, 0x10},
        {"div cl overflow", [](G& g) { g.div(cl); }, 0x1000, 0, 0x10},
        {"div ch by 0", [](G& g) { g.div(ch); }, 0x1000, 0, 0xff},
        {"idiv rcx MIN/-1", [](G& g) { g.idiv(rcx); }, 0x8000000000000000, ~0ULL, ~0ULL, 0, ZYDIS_MNEMONIC_IDIV},
        {"idiv ecx MIN/-1", [](G& g) { g.idiv(ecx); }, 0x80000000, ~0ULL, ~0ULL, 0, ZYDIS_MNEMONIC_IDIV},
        {"idiv cx overflow", [](G& g) { g.idiv(cx); }, 0, 0x100, 2, 0, ZYDIS_MNEMONIC_IDIV},
        {"idiv cl by 0", [](G& g) { g.idiv(cl); }, 0x80, 0, 0, 0, ZYDIS_MNEMONIC_IDIV},
        {"idiv bl MIN/-1", [](G& g) { g.idiv(bl); }, 0xff80, 0, 0, ~0ULL, ZYDIS_MNEMONIC_IDIV},
        {"div qword [rdi+64] by 0", [](G& g) { g.div(qword[rdi + 64]); }, 1, 0, 0},
    };
    for (const Fault& f : faults) {
        SCOPED_TRACE(f.name);
        BtPair p(false, true);   // handler exits counted per mnemonic
        // Flag producers and a register write before the divide (lazy state that must be synced).
        p.load(assemble_with_hlt([&f](G& g) {
            g.add(rsi, r8);
            g.inc(r9);
            f.emit(g);
            g.mov(r10, 1);
        }));
        constexpr uint64_t kDivideAt = kCode + 3 + 3;   // after ADD RSI,R8 and INC R9
        uint64_t gpr[16] = {};
        gpr[hv::RAX] = f.rax;
        gpr[hv::RDX] = f.rdx;
        gpr[hv::RCX] = f.rcx;
        gpr[hv::RBX] = f.rbx;
        gpr[hv::RSI] = 0x7fffffffffffffff;
        gpr[hv::R8] = 1;
        gpr[hv::RDI] = kDataBuf;
        // First a run whose divides all succeed (quotient 0): the block is translated then, and
        // natively: ADD, INC, the divide and MOV; HLT is a handler call.
        uint64_t ok[16] = {};
        ok[hv::RCX] = 0x101;
        ok[hv::RBX] = 1;
        ok[hv::RDI] = kDataBuf;
        for (EmuHarness* h : {&p.interp, &p.bt}) h->poke<uint64_t>(kDataBuf + 64, 1);
        ASSERT_TRUE(p.same(ok, 0));
        ASSERT_FALSE(p.bt.reported());
        EXPECT_EQ(p.stats().native_insns, 4u);
        EXPECT_EQ(p.stats().helper_insns, 1u);
        for (EmuHarness* h : {&p.interp, &p.bt}) h->poke<uint64_t>(kDataBuf + 64, 0);
        const uint64_t exits_before = p.bt.cpu().translator()->handler_exits(f.mnemonic);
        for (int run = 0; run < 3; ++run) {   // translated on the first run (translate_after = 0)
            ASSERT_TRUE(p.same(gpr, kCf));
            ASSERT_TRUE(p.bt.reported()) << "no #DE";
            EXPECT_EQ(p.bt.reported_rip(), kDivideAt);
            EXPECT_EQ(p.interp.reported_rip(), kDivideAt);
            EXPECT_EQ(p.bt.cpu().gpr[hv::RAX], f.rax);
            EXPECT_EQ(p.bt.cpu().gpr[hv::RDX], f.rdx);
            EXPECT_EQ(p.bt.cpu().gpr[hv::RSI], 0x8000000000000000ULL);   // the ADD before ran
            EXPECT_EQ(p.bt.cpu().gpr[hv::R10], 0u);                      // the MOV after did not
        }
        // Every faulting run left the translated block through the divide's slow path.
        EXPECT_EQ(p.bt.cpu().translator()->handler_exits(f.mnemonic) - exits_before, 3u);
    }
}

}  // namespace
}  // namespace popek::emu::test
