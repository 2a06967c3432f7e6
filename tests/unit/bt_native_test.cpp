/// The block translator's native instruction classes against the interpreter, on edge values:
/// carries and overflows at every width, 8-bit high registers, 32-bit zero-extension, 16/8-bit
/// partial writes, flag inputs of ADC/SBB/SETcc/CMOVcc. Each case must also really be native.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kEdges[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                               0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000,
                               0xffffffffffffffff, 0x0123456789abcdef, 0xfedcba9876543210, 0x80ff7f01};
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags, kZf | kOf, kSf | kPf | kAf, kCf | kZf};

struct Case {
    std::string name;
    SnippetEmit emit;
    unsigned native;   ///< instructions of the snippet that must be translated natively
    uint64_t undefined = 0;   ///< RFLAGS bits not compared (see BtPair::same)
};

/// IMUL leaves SF ZF AF PF undefined (SDM Vol. 2A IMUL "Flags Affected").
constexpr uint64_t kImulUndefined = kSf | kZf | kAf | kPf;

/// Runs every case from every rotation of the edge values through the GPRs and every flag set.
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

using Op2 = void (G::*)(const Xbyak::Operand&, const Xbyak::Operand&);
using OpImm = void (G::*)(const Xbyak::Operand&, uint32_t);

TEST(BtNative, BinaryRegisterAndImmediateForms) {
    const std::pair<const char*, Op2> ops[] = {{"add", &G::add}, {"or", &G::or_},   {"adc", &G::adc},
                                               {"sbb", &G::sbb}, {"and", &G::and_}, {"sub", &G::sub},
                                               {"xor", &G::xor_}, {"cmp", &G::cmp}};
    const std::pair<const char*, OpImm> imms[] = {{"add", &G::add}, {"or", &G::or_},   {"adc", &G::adc},
                                                  {"sbb", &G::sbb}, {"and", &G::and_}, {"sub", &G::sub},
                                                  {"xor", &G::xor_}, {"cmp", &G::cmp},  {"test", &G::test}};
    const std::pair<Xbyak::Reg, Xbyak::Reg> pairs[] = {{rax, rcx}, {eax, edx}, {ax, r9w}, {al, cl}, {ah, ch},
                                                        {bh, al},  {ah, dl},   {r10b, sil}, {r15, r8}, {edi, edi}};
    const std::pair<Xbyak::Reg, uint32_t> imm_pairs[] = {{eax, 1}, {rax, 0x7fffffff}, {al, 0x80}, {ah, 0x7f},
                                                          {cx, 0x7fff}, {r8d, 0x7fffffff}, {bh, 0xff}, {r11, 0x80}};
    std::vector<Case> cases;
    for (auto [name, op] : ops)
        for (auto [d, s] : pairs)
            cases.push_back({std::string(name) + " " + d.toString() + "," + s.toString(),
                             [op, d, s](G& g) { (g.*op)(d, s); }, 1});
    for (auto [d, s] : pairs)
        cases.push_back({std::string("test ") + d.toString() + "," + s.toString(), [d, s](G& g) { g.test(d, s); }, 1});
    for (auto [name, op] : imms)
        for (auto [d, v] : imm_pairs)
            cases.push_back({std::string(name) + " " + d.toString() + ",imm", [op, d, v](G& g) { (g.*op)(d, v); }, 1});
    // 64-bit forms with negative (sign-extended) immediates.
    auto raw = [](std::vector<uint8_t> bytes) { return [bytes](G& g) { for (uint8_t b : bytes) g.db(b); }; };
    cases.push_back({"add cx,0x8000", raw({0x66, 0x81, 0xc1, 0x00, 0x80}), 1});
    cases.push_back({"cmp dx,0xffff", raw({0x66, 0x81, 0xfa, 0xff, 0xff}), 1});
    cases.push_back({"add rax,-1", raw({0x48, 0x83, 0xc0, 0xff}), 1});
    cases.push_back({"cmp r11,-0x80000000", raw({0x49, 0x81, 0xfb, 0x00, 0x00, 0x00, 0x80}), 1});
    cases.push_back({"and rcx,-2", raw({0x48, 0x83, 0xe1, 0xfe}), 1});
    cases.push_back({"sbb rdx,-0x10", raw({0x48, 0x83, 0xda, 0xf0}), 1});
    cases.push_back({"test rsi,-0x7fffffff", raw({0x48, 0xf7, 0xc6, 0x01, 0x00, 0x00, 0x80}), 1});
    check_cases(cases);
}

TEST(BtNative, UnaryForms) {
    using Op1 = void (G::*)(const Xbyak::Operand&);
    const std::pair<const char*, Op1> ops[] = {{"inc", &G::inc}, {"dec", &G::dec}, {"neg", &G::neg}, {"not", &G::not_}};
    const Xbyak::Reg regs[] = {rax, ecx, dx, bl, ah, r11w, r12b, bh};
    std::vector<Case> cases;
    for (auto [name, op] : ops)
        for (const Xbyak::Reg& r : regs)
            cases.push_back({std::string(name) + " " + r.toString(), [op, r](G& g) { (g.*op)(r); }, 1});
    check_cases(cases);
}

TEST(BtNative, MovesAndExtensions) {
    std::vector<Case> cases = {
        {"mov rax,r9", [](G& g) { g.mov(rax, r9); }, 1},
        {"mov eax,ecx", [](G& g) { g.mov(eax, ecx); }, 1},
        {"mov ax,bx", [](G& g) { g.mov(ax, bx); }, 1},
        {"mov al,ch", [](G& g) { g.mov(al, ch); }, 1},
        {"mov bh,dl", [](G& g) { g.mov(bh, dl); }, 1},
        {"mov ah,ch", [](G& g) { g.mov(ah, ch); }, 1},
        {"mov rax,imm64", [](G& g) { g.mov(rax, 0x8000000000000001ULL); }, 1},
        {"mov rcx,-1", [](G& g) { g.mov(rcx, -1); }, 1},
        {"mov eax,imm", [](G& g) { g.mov(eax, 0x80000000); }, 1},
        {"mov ax,imm", [](G& g) { g.mov(ax, 0xfffe); }, 1},
        {"mov dh,imm", [](G& g) { g.mov(dh, 0x81); }, 1},
        {"movzx eax,bh", [](G& g) { g.movzx(eax, bh); }, 1},
        {"movzx rax,cx", [](G& g) { g.movzx(rax, cx); }, 1},
        {"movzx ax,dl", [](G& g) { g.movzx(ax, dl); }, 1},
        {"movzx ax,ah", [](G& g) { g.movzx(ax, ah); }, 1},
        {"movzx rdx,r8b", [](G& g) { g.movzx(rdx, r8b); }, 1},
        {"movsx eax,ah", [](G& g) { g.movsx(eax, ah); }, 1},
        {"movsx rax,cl", [](G& g) { g.movsx(rax, cl); }, 1},
        {"movsx cx,ch", [](G& g) { g.movsx(cx, ch); }, 1},
        {"movsx r12,dx", [](G& g) { g.movsx(r12, dx); }, 1},
        {"movsx bx,bl", [](G& g) { g.movsx(bx, bl); }, 1},
        {"movsxd rax,ecx", [](G& g) { g.movsxd(rax, ecx); }, 1},
        {"xchg rax,rcx", [](G& g) { g.xchg(rax, rcx); }, 1},
        {"xchg eax,edx", [](G& g) { g.xchg(edx, eax); }, 1},
        {"xchg ax,r9w", [](G& g) { g.xchg(ax, r9w); }, 1},
        {"xchg al,bh", [](G& g) { g.xchg(al, bh); }, 1},
        {"xchg ah,ch", [](G& g) { g.xchg(ah, ch); }, 1},
        {"xchg al,ah (same register: handler)", [](G& g) { g.xchg(al, ah); }, 0},
        {"bswap eax", [](G& g) { g.bswap(eax); }, 1},
        {"bswap rax", [](G& g) { g.bswap(rax); }, 1},
        {"bswap r9d", [](G& g) { g.bswap(r9d); }, 1},
        {"nop", [](G& g) { g.nop(); }, 1},
        {"nop5", [](G& g) { g.db(0x0f); g.db(0x1f); g.db(0x44); g.db(0); g.db(0); }, 1},
    };
    check_cases(cases);
}

TEST(BtNative, LeaEveryAddressAndOperandSize) {
    std::vector<Case> cases = {
        {"lea rax,[rcx+rdx*4+0x10]", [](G& g) { g.lea(rax, ptr[rcx + rdx * 4 + 0x10]); }, 1},
        {"lea eax,[rcx+rdx*8-1]", [](G& g) { g.lea(eax, ptr[rcx + rdx * 8 - 1]); }, 1},
        {"lea ax,[rbx+rsi]", [](G& g) { g.lea(ax, ptr[rbx + rsi]); }, 1},
        {"lea rax,[rip+0x100]", [](G& g) { g.nop(); g.lea(rax, ptr[rip + 0x100]); }, 2},
        {"lea eax,[ecx+edx*2+5]", [](G& g) { g.lea(eax, ptr[ecx + edx * 2 + 5]); }, 1},
        {"lea rax,[ecx-8]", [](G& g) { g.lea(rax, ptr[ecx - 8]); }, 1},
        {"lea r9,[r10*8]", [](G& g) { g.lea(r9, ptr[r10 * 8]); }, 1},
        {"lea r13,[r13+r13*2-0x80000000]", [](G& g) { g.lea(r13, ptr[r13 + r13 * 2 - 0x80000000]); }, 1},
        {"lea si,[esi+0x12345]", [](G& g) { g.lea(si, ptr[esi + 0x12345]); }, 1},
    };
    check_cases(cases);
}

TEST(BtNative, ShiftsByImmediate) {
    using Sh = void (G::*)(const Xbyak::Operand&, int);
    const std::pair<const char*, Sh> ops[] = {{"shl", &G::shl}, {"shr", &G::shr}, {"sar", &G::sar},
                                              {"rol", &G::rol}, {"ror", &G::ror}, {"rcl", &G::rcl},
                                              {"rcr", &G::rcr}};
    const std::pair<Xbyak::Reg, int> forms[] = {{eax, 1}, {rax, 63}, {rcx, 3}, {al, 7}, {ah, 9}, {bx, 17},
                                                {edx, 31}, {r10, 32}, {bh, 1}, {r9w, 1}};
    std::vector<Case> cases;
    for (auto [name, op] : ops)
        for (auto [r, n] : forms)
            cases.push_back({std::string(name) + " " + r.toString() + "," + std::to_string(n),
                             [op, r, n](G& g) { (g.*op)(r, n); }, 1});
    // A masked count of 0 is left to the handler (it writes a 32-bit register, but no flags).
    cases.push_back({"shl eax,32", [](G& g) { g.shl(eax, 32); }, 0});
    cases.push_back({"shr rax,64", [](G& g) { g.db(0x48); g.db(0xc1); g.db(0xe8); g.db(64); }, 0});
    check_cases(cases);
}

TEST(BtNative, ShiftsByCl) {
    // Every count the rotations of the test give CL (0 among them: no flag changes, so the guest's
    // flags from Cpu::rflags must be in the host before the shift), after a producer (flags live
    // in the host) and alone (flags in Cpu::rflags).
    using Sh = void (G::*)(const Xbyak::Operand&, const Xbyak::Reg8&);
    const std::pair<const char*, Sh> ops[] = {{"shl", &G::shl}, {"shr", &G::shr}, {"sar", &G::sar},
                                              {"rol", &G::rol}, {"ror", &G::ror}, {"rcl", &G::rcl},
                                              {"rcr", &G::rcr}};
    const Xbyak::Reg forms[] = {eax, rax, rcx, al, ah, bx, r10, ch};
    std::vector<Case> cases;
    for (auto [name, op] : ops) {
        for (const Xbyak::Reg& r : forms) {
            for (int count : {0, 1, 5, 33, 64}) {
                cases.push_back({std::string(name) + " " + r.toString() + ",cl=" + std::to_string(count),
                                 [op, r, count](G& g) { g.mov(cl, count); (g.*op)(r, cl); }, 2});
                cases.push_back({"sub; " + std::string(name) + " " + r.toString() + ",cl=" + std::to_string(count),
                                 [op, r, count](G& g) { g.sub(edx, esi); g.mov(cl, count); (g.*op)(r, cl); }, 3});
            }
        }
    }
    check_cases(cases);
}

TEST(BtNative, ImulTwoAndThreeOperands) {
    std::vector<Case> cases = {
        {"imul eax,ecx", [](G& g) { g.imul(eax, ecx); }, 1, kImulUndefined},
        {"imul rax,r9", [](G& g) { g.imul(rax, r9); }, 1, kImulUndefined},
        {"imul dx,bx", [](G& g) { g.imul(dx, bx); }, 1, kImulUndefined},
        {"imul r12d,r12d", [](G& g) { g.imul(r12d, r12d); }, 1, kImulUndefined},
        {"imul eax,ecx,31", [](G& g) { g.imul(eax, ecx, 31); }, 1, kImulUndefined},
        {"imul rdx,rsi,-3", [](G& g) { g.imul(rdx, rsi, -3); }, 1, kImulUndefined},
        {"imul cx,di,0x7fff", [](G& g) { g.imul(cx, di, 0x7fff); }, 1, kImulUndefined},
        {"imul r8,r8,0x40000000", [](G& g) { g.imul(r8, r8, 0x40000000); }, 1, kImulUndefined},
        {"imul ecx (one operand: emu/bt/muldiv_ops.cpp)", [](G& g) { g.imul(ecx); }, 1, kImulUndefined},
    };
    check_cases(cases);
}

TEST(BtNative, SetccAndCmovccEveryCondition) {
    std::vector<Case> cases;
    for (uint8_t cc = 0; cc < 16; ++cc) {
        const uint8_t op = static_cast<uint8_t>(0x40 + cc), set = static_cast<uint8_t>(0x90 + cc);
        cases.push_back({fmt::format("set{:x} al", cc), [set](G& g) { g.db(0x0f); g.db(set); g.db(0xc0); }, 1});
        cases.push_back({fmt::format("set{:x} bh", cc), [set](G& g) { g.db(0x0f); g.db(set); g.db(0xc7); }, 1});
        cases.push_back({fmt::format("cmov{:x} eax,ecx", cc), [op](G& g) { g.db(0x0f); g.db(op); g.db(0xc1); }, 1});
        cases.push_back({fmt::format("cmov{:x} ax,dx", cc), [op](G& g) { g.db(0x66); g.db(0x0f); g.db(op); g.db(0xc2); }, 1});
        cases.push_back({fmt::format("cmov{:x} rax,r9", cc), [op](G& g) { g.db(0x49); g.db(0x0f); g.db(op); g.db(0xc1); }, 1});
    }
    check_cases(cases);
}

TEST(BtNative, SequencesMixingNativeCodeAndHandlers) {
    std::vector<Case> cases = {
        {"alu chain", [](G& g) { g.add(rax, rcx); g.adc(edx, eax); g.sbb(bl, ah); g.setc(cl); g.cmovz(esi, edx); }, 5},
        {"stack and memory between", [](G& g) {
             g.add(rax, rcx);
             g.push(rax);
             g.mov(rdx, ptr[rsp]);
             g.adc(rdx, 5);
             g.pop(rbx);
             g.setc(cl);
             g.lea(rsi, ptr[rip]);
             g.pushf();
             g.pop(r8);
         }, 8},   // all but PUSHF: PUSH/MOV/POP have inline memory paths (bt_memory_test.cpp)
        {"dead flags skipped, live ones kept", [](G& g) {
             g.add(rax, rcx);        // dead: SUB overwrites every flag first
             g.mov(rdx, rax);
             g.sub(ebx, 5);          // dead: XOR
             g.lea(rsi, ptr[rax + 1]);
             g.xor_(ecx, edx);       // live: INC keeps its CF
             g.inc(r8);
             g.shl(r9, 3);           // live: ROL reads the flags
             g.rol(r10d, 5);
             g.imul(r11, r12, 7);    // live: the block's end
         }, 9, kImulUndefined},
        {"flags from a handler feed native code", [](G& g) { g.stc(); g.adc(rax, 0); g.cmc(); g.sbb(ecx, ecx); }, 2},
    };
    check_cases(cases);
}

}  // namespace
}  // namespace popek::emu::test

namespace popek::emu::test {
namespace {

TEST(BtNative, ForwardJccTakesItsConditionFromTheRightFlags) {
    // JB after CMP reads the CMP's carry (evaluated on the host flags); JB after INC reads the
    // guest's CF from before (INC keeps it); JNZ after DEC reads ZF of the DEC. The three forward
    // Jccs are inside one block (a superblock: BlockCache::continues_block), each jumping to a
    // merge point of its own.
    BtPair p;
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label skip, skip2, skip3;
        g.cmp(rax, rcx);
        g.jb(skip);
        g.mov(edx, 1);
        g.L(skip);
        g.inc(esi);
        g.jb(skip2);
        g.mov(edi, 1);
        g.L(skip2);
        g.dec(r8d);
        g.jnz(skip3);
        g.mov(r9d, 1);
        g.L(skip3);
    }));
    constexpr size_t n = std::size(kEdges);
    for (size_t rot = 0; rot < n; ++rot) {
        uint64_t gpr[16];
        for (size_t i = 0; i < 16; ++i) gpr[i] = kEdges[(i + rot) % n];
        for (uint64_t f : kFlagSets) ASSERT_TRUE(p.same(gpr, f)) << "rotation " << rot;
    }
    EXPECT_EQ(p.stats().blocks, 1u);
}

}  // namespace
}  // namespace popek::emu::test
