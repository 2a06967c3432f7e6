/// The block translator's further inline memory forms (emu/bt/memory_extra_ops.cpp) against the
/// interpreter: SETcc m8 for every condition, BT/BTS/BTR/BTC on memory by immediate and by a
/// signed register offset (bit string, SDM Vol. 2A BT), LOCKed forms, LEAVE, PREFETCHh; then #PF
/// inside each (exact RIP, CR2, error code, nothing changed). Registers, flags and the data
/// buffer must come out equal, and each case must really be translated inline.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kDataBuf = 0x30000;   ///< RDI = kDataBuf + kMid (writable RAM)
constexpr uint64_t kMid = 0x200;
constexpr size_t kDataLen = 0x400;
constexpr uint64_t kValues[] = {0, 1, 0x7f, 0x80, 0xffffffff, 0x8000000000000000, 0xffffffffffffffff,
                                0x0123456789abcdef, 0x80ff7f01, 0x7fff};
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags, kZf | kOf, kSf | kPf, kCf | kZf};

struct Case {
    std::string name;
    SnippetEmit emit;
    unsigned inline_insns;
};

void fill(BtPair& p, uint64_t seed) {
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        for (size_t k = 0; k < kDataLen; k += 8)
            h->poke<uint64_t>(kDataBuf + k, (seed + 1) * 0x9e3779b97f4a7c15ULL ^ k * 0x0101010101010101ULL);
        for (size_t k = 0; k < 64; k += 8) h->poke<uint64_t>(kStackTop - 64 + k, 0);
    }
}

::testing::AssertionResult same_memory(BtPair& p) {
    for (size_t k = 0; k < kDataLen; k += 8)
        if (p.interp.read<uint64_t>(kDataBuf + k) != p.bt.read<uint64_t>(kDataBuf + k))
            return ::testing::AssertionFailure() << "data +" << k << " differs";
    return ::testing::AssertionSuccess();
}

void check(const std::vector<Case>& cases) {
    BtPair p;
    constexpr size_t n = std::size(kValues);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        p.load(assemble_with_hlt(c.emit));
        const uint64_t before = p.stats().native_insns;
        for (size_t rot = 0; rot < n; ++rot) {
            uint64_t gpr[16];
            for (size_t i = 0; i < 16; ++i) gpr[i] = kValues[(i + rot) % n];
            gpr[hv::RDI] = kDataBuf + kMid;
            gpr[hv::RBP] = kStackTop - 32;
            for (uint64_t f : kFlagSets) {
                fill(p, rot);
                ASSERT_TRUE(p.same(gpr, f)) << "rotation " << rot;
                ASSERT_TRUE(same_memory(p)) << "rotation " << rot;
            }
        }
        EXPECT_EQ(p.stats().native_insns - before, c.inline_insns) << "not translated inline";
    }
}

TEST(BtMemoryExtra, SetccToMemoryEveryCondition) {
    std::vector<Case> cases;
    for (uint8_t cc = 0; cc < 16; ++cc) {
        const uint8_t op = static_cast<uint8_t>(0x90 + cc);
        // set<cc> byte [rdi+5] alone (flags from Cpu::rflags), and after a producer (in the host).
        cases.push_back({fmt::format("set{:x} [rdi+5]", cc), [op](G& g) { g.db(0x0f); g.db(op); g.db(0x47); g.db(5); }, 1});
        cases.push_back({fmt::format("sub; set{:x} [rdi+rsi]", cc), [op](G& g) {
                             g.sub(rax, rcx);
                             g.xor_(esi, esi);
                             g.db(0x0f); g.db(op); g.db(0x04); g.db(0x37);   // set<cc> byte [rdi+rsi]
                             g.adc(rdx, rbx);                                  // the flags survive
                         }, 4});
    }
    check(cases);
}

TEST(BtMemoryExtra, BitTestsOnMemory) {
    using BtR = void (G::*)(const Xbyak::Operand&, const Xbyak::Reg&);
    using BtI = void (G::*)(const Xbyak::Operand&, uint8_t);
    const std::tuple<const char*, BtR, BtI> ops[] = {
        {"bt", &G::bt, &G::bt}, {"bts", &G::bts, &G::bts}, {"btr", &G::btr, &G::btr}, {"btc", &G::btc, &G::btc}};
    std::vector<Case> cases;
    for (auto [name, reg_op, imm_op] : ops) {
        for (int size : {2, 4, 8}) {
            const Xbyak::AddressFrame* frame = size == 2 ? &word : size == 4 ? &dword : &qword;
            const Xbyak::Reg off = size == 2 ? Xbyak::Reg(cx) : size == 4 ? Xbyak::Reg(ecx) : Xbyak::Reg(rcx);
            for (int bit : {0, 13, 31, 63, 200})
                cases.push_back({fmt::format("{} {}[rdi+8],{}", name, size, bit),
                                 [imm_op, frame, bit](G& g) { (g.*imm_op)((*frame)[rdi + 8], static_cast<uint8_t>(bit)); }, 1});
            // Register offsets, negative and beyond the operand (bit string): MOV ECX, then the op.
            for (int offset : {0, 7, 31, 64, 100, 1000, -1, -17, -70, -1000}) {
                if (size == 2 && (offset > 0x7fff || offset < -0x8000)) continue;
                cases.push_back({fmt::format("{} {}[rdi],reg={}", name, size, offset),
                                 [reg_op, frame, off, offset](G& g) {
                                     g.mov(rcx, offset);
                                     (g.*reg_op)((*frame)[rdi], off);
                                 }, 2});
            }
        }
        if (std::string_view(name) != "bt") {
            cases.push_back({std::string("lock ") + name + " qword [rdi+16],rdx", [reg_op](G& g) {
                                 g.mov(edx, 77);
                                 g.lock();
                                 (g.*reg_op)(qword[rdi + 16], rdx);
                             }, 2});
            cases.push_back({std::string("lock ") + name + " dword [rdi],9", [imm_op](G& g) {
                                 g.lock();
                                 (g.*imm_op)(dword[rdi], 9);
                             }, 1});
        }
    }
    // Every flag but CF is kept (the interpreter's choice for the undefined OF SF AF PF).
    cases.push_back({"sub; bts; setz/sets/seto/setp/setc", [](G& g) {
                         g.sub(rax, rbx);
                         g.bts(dword[rdi + 4], 3);
                         g.setz(r8b);
                         g.sets(r9b);
                         g.seto(r10b);
                         g.setp(r11b);
                         g.setc(r12b);
                     }, 7});
    check(cases);
}

TEST(BtMemoryExtra, LeaveAndPrefetch) {
    check({
        {"leave", [](G& g) { g.leave(); }, 1},
        {"push rbp; mov rbp,rsp; sub; leave", [](G& g) {
             g.push(rbp);
             g.mov(rbp, rsp);
             g.sub(rsp, 16);
             g.mov(qword[rbp - 8], rax);
             g.leave();
             g.adc(rcx, rdx);
         }, 6},
        {"prefetcht0 [rdi]; prefetchnta [rax]", [](G& g) {
             g.prefetcht0(ptr[rdi]);
             g.prefetchnta(ptr[rax + rcx * 8]);   // any address: nothing is accessed
         }, 2},
        {"endbr64", [](G& g) { g.endbr64(); }, 1},
    });
}

TEST(BtMemoryExtra, PageFaultsAreExact) {
    // The 4 KiB page at kPtBase + 0x5000 is not present: each form faults with the interpreter's
    // RIP, CR2, error code and count, nothing written, the flags of the instructions before it.
    const uint64_t hole = kPtBase + 0x5000;
    const std::tuple<const char*, SnippetEmit, unsigned> cases[] = {
        {"setnz", [](G& g) { g.add(rcx, rdx); g.setnz(byte[rdi + 3]); g.inc(rdx); }, 3},
        {"bt by register into the hole", [](G& g) { g.inc(rcx); g.mov(rax, -8); g.bt(qword[rdi + 0x1000], rax); }, 3},
        {"lock btr", [](G& g) { g.sub(rcx, rdx); g.lock(); g.btr(dword[rdi], 5); }, 2},
        {"leave", [](G& g) { g.add(rcx, rdx); g.mov(rbp, rdi); g.leave(); }, 3},
    };
    for (auto& [name, emit, natives] : cases) {
        SCOPED_TRACE(name);
        BtPair p;
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            h->set_pte(hole, 0);
            h->set_gate(kPfv, kHandlerErr);
        }
        p.load(assemble_with_hlt(emit));
        uint64_t gpr[16] = {};
        // First from a good address: the block is translated then, every instruction but HLT inline.
        gpr[hv::RDI] = kDataBuf + kMid;
        ASSERT_TRUE(p.same(gpr, 0));
        ASSERT_FALSE(p.bt.reported());
        EXPECT_EQ(p.stats().native_insns, natives);
        EXPECT_EQ(p.stats().helper_insns, 1u);
        gpr[hv::RDI] = hole;
        gpr[hv::RCX] = 0x7fffffffffffffff;
        gpr[hv::RDX] = 1;
        for (int run = 0; run < 3; ++run) {
            ASSERT_TRUE(p.same(gpr, 0));
            ASSERT_TRUE(p.bt.reported());
            EXPECT_EQ(p.interp.reported_cr2(), p.bt.reported_cr2());
            EXPECT_EQ(p.interp.reported_error(), p.bt.reported_error());
            EXPECT_EQ(p.interp.reported_rip(), p.bt.reported_rip());
        }
    }
}

}  // namespace
}  // namespace popek::emu::test
