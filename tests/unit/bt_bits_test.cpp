/// The block translator's native bit operations (emu/bt/bit_ops.cpp) against the interpreter:
/// SHLD/SHRD by immediate and by CL (count 0 included), BT/BTS/BTR/BTC by register and immediate,
/// BSF/BSR/TZCNT/LZCNT/POPCNT (zero sources included) and XADD, at 16/32/64 bits, alone (guest
/// flags in Cpu::rflags) and after a flag producer (guest flags live in the host). Each case must
/// really be translated natively.
#include "bt_pair.h"
#include "emu/interp/families.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kEdges[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                               0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000,
                               0xffffffffffffffff, 0x0123456789abcdef, 0xfedcba9876543210, 0x80ff7f01, 33, 17};
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags, kZf | kOf, kSf | kPf | kAf};

struct Case {
    std::string name;
    SnippetEmit emit;
    unsigned native;
    uint64_t undefined = 0;   ///< RFLAGS bits the SDM leaves undefined (not compared)
};

void check_cases(const std::vector<Case>& cases) {
    BtPair p;
    constexpr size_t n = std::size(kEdges);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        p.load(assemble_with_hlt(c.emit));
        const uint64_t native_before = p.stats().native_insns;
        for (size_t rot = 0; rot < n; ++rot) {
            uint64_t gpr[16];
            for (size_t i = 0; i < 16; ++i) gpr[i] = kEdges[(i + rot) % n];
            for (uint64_t f : kFlagSets) ASSERT_TRUE(p.same(gpr, f, c.undefined)) << "rotation " << rot;
        }
        EXPECT_EQ(p.stats().native_insns - native_before, c.native) << "not translated natively";
    }
}

/// Each case alone and after SUB R14, R15 (whose flags are then live in the host).
void check_alone_and_after_producer(std::vector<Case> cases) {
    const size_t n = cases.size();
    for (size_t k = 0; k < n; ++k) {
        const Case c = cases[k];
        cases.push_back({"sub; " + c.name, [e = c.emit](G& g) { g.sub(r14, r15); e(g); }, c.native + 1, c.undefined});
    }
    check_cases(cases);
}

TEST(BtBits, DoubleShiftsByImmediateAndCl) {
    // SDM Vol. 2B SHLD/SHRD: AF undefined, OF undefined unless the count is 1; a 16-bit count over
    // 16 leaves the result and every flag undefined (not generated here: see the difftest).
    using Dsh = void (G::*)(const Xbyak::Operand&, const Xbyak::Reg&, uint8_t);
    using DshCl = void (G::*)(const Xbyak::Operand&, const Xbyak::Reg&, const Xbyak::Reg8&);
    const std::tuple<const char*, Dsh, DshCl> ops[] = {{"shld", &G::shld, &G::shld}, {"shrd", &G::shrd, &G::shrd}};
    const std::pair<Xbyak::Reg, Xbyak::Reg> pairs[] = {{rax, rdx}, {ebx, esi}, {r9w, ax}, {r12, r12}, {ecx, eax}};
    std::vector<Case> cases;
    for (auto [name, imm_op, cl_op] : ops) {
        for (auto [d, s] : pairs) {
            const std::string form = std::string(name) + " " + d.toString() + "," + s.toString();
            const unsigned bits = d.getBit();
            for (int count : {1, 5, 16, 31, 63}) {
                if (count >= static_cast<int>(bits) && bits == 16) continue;
                if (count >= 32 && bits == 32) continue;
                cases.push_back({form + "," + std::to_string(count),
                                 [imm_op, d, s, count](G& g) { (g.*imm_op)(d, s, static_cast<uint8_t>(count)); }, 1,
                                 kAf | (count == 1 ? 0 : kOf)});
            }
            if (d.getIdx() == Xbyak::Operand::RCX) continue;   // CL is the count
            // By CL: the rotations give CL every edge value's low byte (0 among them: nothing changes).
            cases.push_back({form + ",cl", [cl_op, d, s](G& g) { (g.*cl_op)(d, s, cl); }, 1,
                             bits == 16 ? kArithFlags : kAf | kOf});
        }
    }
    cases.push_back({"shld eax,edx,0 (count 0: handler)", [](G& g) { g.shld(eax, edx, 0); }, 0});
    cases.push_back({"shrd rax,rdx,64 (count 0: handler)", [](G& g) { g.shrd(rax, rdx, 64); }, 0});
    check_alone_and_after_producer(cases);
}

TEST(BtBits, BitTestsKeepEveryFlagButCf) {
    // SDM Vol. 2A BT: CF is the bit; OF SF AF PF undefined, which the interpreter keeps as they
    // were, and ZF unchanged: so every flag is compared.
    using BtR = void (G::*)(const Xbyak::Operand&, const Xbyak::Reg&);
    using BtI = void (G::*)(const Xbyak::Operand&, uint8_t);
    const std::tuple<const char*, BtR, BtI> ops[] = {
        {"bt", &G::bt, &G::bt}, {"bts", &G::bts, &G::bts}, {"btr", &G::btr, &G::btr}, {"btc", &G::btc, &G::btc}};
    const std::pair<Xbyak::Reg, Xbyak::Reg> pairs[] = {{rax, rcx}, {edx, ebx}, {si, r8w}, {r13, r13}, {r9d, edi}};
    std::vector<Case> cases;
    for (auto [name, reg_op, imm_op] : ops) {
        for (auto [d, s] : pairs) {
            cases.push_back({std::string(name) + " " + d.toString() + "," + s.toString(),
                             [reg_op, d, s](G& g) { (g.*reg_op)(d, s); }, 1});
            for (int bit : {0, 15, 31, 63, 200}) {
                cases.push_back({std::string(name) + " " + d.toString() + "," + std::to_string(bit),
                                 [imm_op, d, bit](G& g) { (g.*imm_op)(d, static_cast<uint8_t>(bit)); }, 1});
            }
        }
    }
    cases.push_back({"bt; setc; setz; sets; seto; setp", [](G& g) {
                         g.bt(rax, rcx);
                         g.setc(r8b);
                         g.setz(r9b);
                         g.sets(r10b);
                         g.seto(r11b);
                         g.setp(r12b);
                     }, 6});
    check_alone_and_after_producer(cases);
}

TEST(BtBits, BitScansAndCounts) {
    // BSF/BSR: ZF defined, CF OF SF AF PF undefined (SDM Vol. 2A); TZCNT/LZCNT: CF ZF defined, OF SF
    // AF PF undefined; POPCNT: every flag defined. A zero source leaves BSF/BSR's destination.
    constexpr uint64_t kScanUndefined = kCf | kOf | kSf | kAf | kPf;
    constexpr uint64_t kCountUndefined = kOf | kSf | kAf | kPf;
    using Op = void (G::*)(const Xbyak::Reg&, const Xbyak::Operand&);
    std::vector<std::tuple<const char*, Op, uint64_t>> ops = {{"bsf", &G::bsf, kScanUndefined},
                                                              {"bsr", &G::bsr, kScanUndefined}};
    if (host_has_bmi1()) ops.emplace_back("tzcnt", &G::tzcnt, kCountUndefined);
    if (host_has_lzcnt()) ops.emplace_back("lzcnt", &G::lzcnt, kCountUndefined);
    if (host_has_popcnt()) ops.emplace_back("popcnt", &G::popcnt, 0);
    const std::pair<Xbyak::Reg, Xbyak::Reg> pairs[] = {{rax, rcx}, {edx, ebx}, {si, r8w}, {r13d, r13d}, {r9, rdi}, {ecx, eax}};
    std::vector<Case> cases;
    for (auto [name, op, undefined] : ops)
        for (auto [d, s] : pairs)
            cases.push_back({std::string(name) + " " + d.toString() + "," + s.toString(),
                             [op, d, s](G& g) { (g.*op)(d, s); }, 1, undefined});
    check_alone_and_after_producer(cases);
}

TEST(BtBits, XaddRegisters) {
    check_alone_and_after_producer({
        {"xadd rax,rcx", [](G& g) { g.xadd(rax, rcx); }, 1},
        {"xadd edx,r9d", [](G& g) { g.xadd(edx, r9d); }, 1},
        {"xadd si,bx", [](G& g) { g.xadd(si, bx); }, 1},
        {"xadd r10b,cl", [](G& g) { g.xadd(r10b, cl); }, 1},
        {"xadd al,ah (same register: handler)", [](G& g) { g.xadd(al, ah); }, 0},
        {"xadd bh,cl (AH..BH: handler)", [](G& g) { g.xadd(bh, cl); }, 0},
    });
}

}  // namespace
}  // namespace popek::emu::test
