/// The block translator's inline memory fast paths (emu/bt/memory_ops.cpp) against the
/// interpreter: loads, stores, read-modify-writes (plain and LOCKed), XCHG/XADD/CMPXCHG, PUSH/POP,
/// RIP-relative and FS/GS-based addresses, 32-bit address size. Registers, flags, the data buffer
/// and the stack must come out equal, and each case must really have run translated inline. Then
/// the slow paths: page-crossing accesses, #PF inside translated code (exact RIP, CR2, error code
/// and count), and a store into the block's own code.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kDataBuf = 0x30000;   ///< RDI points here (1st 2 MiB page: RAM, writable)
constexpr size_t kDataLen = 64;
constexpr uint64_t kValues[] = {0, 1, 0x7f, 0x80, 0xffffffff, 0x8000000000000000, 0xffffffffffffffff,
                                0x0123456789abcdef, 0x80ff7f01, 0x7fff};
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags, kZf | kOf};

struct MemCase {
    std::string name;
    SnippetEmit emit;
    unsigned inline_insns;   ///< instructions of the snippet translated natively (inline)
};

void fill(BtPair& p, uint64_t seed) {
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        for (size_t k = 0; k < kDataLen; k += 8) h->poke<uint64_t>(kDataBuf + k, seed * 0x9e3779b97f4a7c15ULL + k * 0x0101010101010101ULL);
        for (size_t k = 0; k < 64; k += 8) h->poke<uint64_t>(kStackTop - 64 + k, 0);
    }
}

::testing::AssertionResult same_memory(BtPair& p) {
    for (size_t k = 0; k < kDataLen; k += 8)
        if (p.interp.read<uint64_t>(kDataBuf + k) != p.bt.read<uint64_t>(kDataBuf + k))
            return ::testing::AssertionFailure() << "data +" << k << " differs";
    for (size_t k = 0; k < 64; k += 8)
        if (p.interp.read<uint64_t>(kStackTop - 64 + k) != p.bt.read<uint64_t>(kStackTop - 64 + k))
            return ::testing::AssertionFailure() << "stack -" << 64 - k << " differs";
    return ::testing::AssertionSuccess();
}

void check(const std::vector<MemCase>& cases) {
    BtPair p;
    constexpr size_t n = std::size(kValues);
    for (const MemCase& c : cases) {
        SCOPED_TRACE(c.name);
        p.load(assemble_with_hlt(c.emit));
        const uint64_t before = p.stats().native_insns;
        for (size_t rot = 0; rot < n; ++rot) {
            uint64_t gpr[16];
            for (size_t i = 0; i < 16; ++i) gpr[i] = kValues[(i + rot) % n];
            gpr[hv::RDI] = kDataBuf;
            gpr[hv::RSI] = rot % 4;   // a small index
            for (uint64_t f : kFlagSets) {
                fill(p, rot);
                ASSERT_TRUE(p.same(gpr, f)) << "rotation " << rot;
                ASSERT_TRUE(same_memory(p)) << "rotation " << rot;
            }
        }
        EXPECT_EQ(p.stats().native_insns - before, c.inline_insns) << "not translated inline";
    }
}

TEST(BtMemory, LoadsAndLoadOperateForms) {
    check({
        {"mov rax,[rdi]", [](G& g) { g.mov(rax, qword[rdi]); }, 1},
        {"mov eax,[rdi+4]", [](G& g) { g.mov(eax, dword[rdi + 4]); }, 1},
        {"mov cx,[rdi+rsi*2+6]", [](G& g) { g.mov(cx, word[rdi + rsi * 2 + 6]); }, 1},
        {"mov ah,[rdi+1]", [](G& g) { g.mov(ah, byte[rdi + 1]); }, 1},
        {"mov r9b,[rdi+rsi]", [](G& g) { g.mov(r9b, byte[rdi + rsi]); }, 1},
        {"mov r12,[rdi+3] (unaligned)", [](G& g) { g.mov(r12, qword[rdi + 3]); }, 1},
        {"add rax,[rdi]", [](G& g) { g.add(rax, qword[rdi]); }, 1},
        {"adc ecx,[rdi+8]", [](G& g) { g.adc(ecx, dword[rdi + 8]); }, 1},
        {"sbb bh,[rdi+2]", [](G& g) { g.sbb(bh, byte[rdi + 2]); }, 1},
        {"sub dx,[rdi]", [](G& g) { g.sub(dx, word[rdi]); }, 1},
        {"and r8,[rdi+16]", [](G& g) { g.and_(r8, qword[rdi + 16]); }, 1},
        {"or eax,[rdi]", [](G& g) { g.or_(eax, dword[rdi]); }, 1},
        {"xor r15d,[rdi+20]", [](G& g) { g.xor_(r15d, dword[rdi + 20]); }, 1},
        {"cmp r9,[rdi]", [](G& g) { g.cmp(r9, qword[rdi]); }, 1},
        {"movzx eax,byte [rdi+5]", [](G& g) { g.movzx(eax, byte[rdi + 5]); }, 1},
        {"movzx rcx,word [rdi+6]", [](G& g) { g.movzx(rcx, word[rdi + 6]); }, 1},
        {"movzx ax,byte [rdi]", [](G& g) { g.movzx(ax, byte[rdi]); }, 1},
        {"movsx rax,word [rdi+2]", [](G& g) { g.movsx(rax, word[rdi + 2]); }, 1},
        {"movsx edx,byte [rdi+7]", [](G& g) { g.movsx(edx, byte[rdi + 7]); }, 1},
        {"movsx bx,byte [rdi+7]", [](G& g) { g.movsx(bx, byte[rdi + 7]); }, 1},
        {"movsxd rax,[rdi+4]", [](G& g) { g.movsxd(rax, dword[rdi + 4]); }, 1},
        {"mov rax,[eax] (32-bit address)", [](G& g) { g.mov(eax, static_cast<uint32_t>(kDataBuf)); g.mov(rax, qword[eax + 8]); }, 2},
        {"cmp eax,[rdi]; jz (condition from the host flags)", [](G& g) {
             Xbyak::Label l;
             g.cmp(eax, dword[rdi]);
             g.jz(l);
             g.inc(ecx);
             g.L(l);
         }, 2},
    });
}

TEST(BtMemory, StoresAndReadModifyWrites) {
    check({
        {"mov [rdi],rax", [](G& g) { g.mov(qword[rdi], rax); }, 1},
        {"mov [rdi+3],ecx", [](G& g) { g.mov(dword[rdi + 3], ecx); }, 1},
        {"mov [rdi+rsi*8],dx", [](G& g) { g.mov(word[rdi + rsi * 8], dx); }, 1},
        {"mov [rdi+1],ah", [](G& g) { g.mov(byte[rdi + 1], ah); }, 1},
        {"mov [rdi+1],sil", [](G& g) { g.mov(byte[rdi + 1], sil); }, 1},
        {"mov qword [rdi],-2", [](G& g) { g.mov(qword[rdi], -2); }, 1},
        {"mov byte [rdi+9],0x81", [](G& g) { g.mov(byte[rdi + 9], 0x81); }, 1},
        {"add [rdi],rax", [](G& g) { g.add(qword[rdi], rax); }, 1},
        {"lock add [rdi],ecx", [](G& g) { g.lock(); g.add(dword[rdi], ecx); }, 1},
        {"adc [rdi+8],r10", [](G& g) { g.adc(qword[rdi + 8], r10); }, 1},
        {"sbb word [rdi],5", [](G& g) { g.sbb(word[rdi], 5); }, 1},
        {"sub byte [rdi+1],bh", [](G& g) { g.sub(byte[rdi + 1], bh); }, 1},
        {"lock and [rdi],r9", [](G& g) { g.lock(); g.and_(qword[rdi], r9); }, 1},
        {"lock or dword [rdi],0x80000000", [](G& g) { g.lock(); g.or_(dword[rdi], 0x80000000); }, 1},
        {"xor [rdi+4],esi", [](G& g) { g.xor_(dword[rdi + 4], esi); }, 1},
        {"cmp qword [rdi],-1", [](G& g) { g.cmp(qword[rdi], -1); }, 1},
        {"test [rdi],r8b", [](G& g) { g.test(byte[rdi], r8b); }, 1},
        {"test dword [rdi+4],0x80", [](G& g) { g.test(dword[rdi + 4], 0x80); }, 1},
        {"inc qword [rdi]", [](G& g) { g.inc(qword[rdi]); }, 1},
        {"lock dec dword [rdi+4]", [](G& g) { g.lock(); g.dec(dword[rdi + 4]); }, 1},
        {"neg word [rdi+2]", [](G& g) { g.neg(word[rdi + 2]); }, 1},
        {"not byte [rdi+3]", [](G& g) { g.not_(byte[rdi + 3]); }, 1},
        {"xchg [rdi],rax", [](G& g) { g.xchg(qword[rdi], rax); }, 1},
        {"xchg [rdi+1],cl", [](G& g) { g.xchg(byte[rdi + 1], cl); }, 1},
        {"lock xadd [rdi],ecx", [](G& g) { g.lock(); g.xadd(dword[rdi], ecx); }, 1},
        {"xadd [rdi],r11w", [](G& g) { g.xadd(word[rdi], r11w); }, 1},
        {"lock cmpxchg [rdi],rdx (fails)", [](G& g) { g.lock(); g.cmpxchg(qword[rdi], rdx); }, 1},
        {"lock cmpxchg [rdi],edx (succeeds)", [](G& g) {
             g.mov(eax, dword[rdi]);
             g.or_(rax, r8);   // RAX's upper half is kept on success (compared: 32 bits only)
             g.lock();
             g.cmpxchg(dword[rdi], edx);
         }, 3},
        {"cmpxchg [rdi],cl", [](G& g) { g.cmpxchg(byte[rdi], cl); }, 1},
    });
}

TEST(BtMemory, StackRipRelativeAndSegmentBases) {
    check({
        {"push rax; pop rcx", [](G& g) { g.push(rax); g.pop(rcx); }, 2},
        {"push -5; push r12; pop rdx; pop r13", [](G& g) { g.push(-5); g.push(r12); g.pop(rdx); g.pop(r13); }, 4},
        {"push rsp; pop rsp", [](G& g) { g.push(rsp); g.pop(rsp); }, 2},
        {"push rsp; pop rax", [](G& g) { g.push(rsp); g.pop(rax); }, 2},
        {"mov rax,[rip+d]; add [rip+d],rcx; mov rdx,[rip+d]", [](G& g) {
             // Each 7 bytes long; d is relative to the next instruction (SDM Vol. 2A 2.2.1.6).
             const auto d = [](int end, int off) { return static_cast<int>(kDataBuf + off - (kCode + end)); };
             g.mov(rax, qword[rip + d(7, 0)]);
             g.add(qword[rip + d(14, 8)], rcx);
             g.mov(rdx, qword[rip + d(21, 8)]);
         }, 3},
    });
    BtPair p;
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        h->cpu().seg[kFs].base = kDataBuf + 8;
        h->cpu().seg[kGs].base = kDataBuf + 16;
    }
    p.load(assemble_with_hlt([](G& g) {
        g.db(0x64); g.mov(rax, qword[rsi * 8]);   // mov rax, fs:[rsi*8]
        g.db(0x65); g.add(qword[rsi], rcx);       // add gs:[rsi], rcx
    }));
    uint64_t gpr[16] = {};
    for (uint64_t i = 0; i < 16; ++i) gpr[i] = 0x1000 + i;
    for (uint64_t rsi_value : {0, 1, 3}) {
        gpr[hv::RSI] = rsi_value;
        fill(p, rsi_value);
        ASSERT_TRUE(p.same(gpr, 0));
        ASSERT_TRUE(same_memory(p));
    }
    EXPECT_EQ(p.stats().native_insns, 2u);
}

TEST(BtMemory, CallRetAndIndirectBranchesEndBlocksNatively) {
    // CALL rel, CALL reg, JMP [mem], RET and RET imm16 end their blocks as native code (the push,
    // pop and target read through the TLB probe); the next block is reached by a chain or by
    // Translator::next_block. Registers, flags, stack and the instruction count must equal the
    // interpreter's, and every one of those block ends must have been native.
    check({
        {"call rel; ret", [](G& g) {
             Xbyak::Label fn, done;
             g.call(fn);
             g.add(rax, 1);
             g.jmp(done);
             g.L(fn);
             g.mov(rcx, qword[rsp]);   // the return address
             g.ret();
             g.L(done);
         }, 4},
        {"call reg; ret 8", [](G& g) {
             Xbyak::Label fn, done;
             g.push(rax);
             g.lea(rdx, ptr[rip + fn]);
             g.call(rdx);
             g.jmp(done);
             g.L(fn);
             g.inc(rsi);
             g.ret(8);
             g.L(done);
         }, 5},   // JMP rel ends a block too, but as a chained branch (not counted as native)
        {"jmp [rip+table]", [](G& g) {
             // jmp [rip+2] (6 bytes) reads the guest address kCode+16 from offset 8.
             g.jmp(qword[rip + 2]);
             g.db(0x90);
             g.db(0x90);
             g.dq(kCode + 16);
             g.add(ecx, edx);
         }, 2},
    });
}

TEST(BtMemory, PageCrossingAccessTakesTheSlowPathAndStaysExact) {
    // [rdi+0xffd] of an 8-byte access crosses into the next page: no TLB tag can match.
    BtPair p;
    p.load(assemble_with_hlt([](G& g) {
        g.mov(rax, qword[rdi + 0xffd]);
        g.add(qword[rdi + 0xffc], rcx);
        g.mov(edx, dword[rdi + 0xffe]);
    }));
    uint64_t gpr[16] = {};
    gpr[hv::RDI] = kDataBuf;
    gpr[hv::RCX] = 0xdeadbeefcafef00dULL;
    for (int run = 0; run < 3; ++run) {
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            h->poke<uint64_t>(kDataBuf + 0xff8, 0x0807060504030201ULL + run);
            h->poke<uint64_t>(kDataBuf + 0x1000, 0x100f0e0d0c0b0a09ULL);
        }
        ASSERT_TRUE(p.same(gpr, 0));
        EXPECT_EQ(p.interp.read<uint64_t>(kDataBuf + 0xffc), p.bt.read<uint64_t>(kDataBuf + 0xffc));
    }
}

TEST(BtMemory, SlowPathWithEveryHostRegisterOfTheCacheInUse) {
    // More guest registers than the register cache holds (emu/bt/reg_cache.h), dirty when a
    // page-crossing access takes the slow path, and flags produced before and after it: the
    // write-back before the handler, the reload after it and the evictions must all be exact.
    BtPair p;
    p.load(assemble_with_hlt([](G& g) {
        const Xbyak::Reg64 regs[] = {rax, rcx, rdx, rbx, rbp, r8, r9, r10, r11, r12, r13, r14, r15};
        for (size_t i = 0; i < std::size(regs); ++i) g.add(regs[i], regs[(i + 3) % std::size(regs)]);
        g.cmp(r9, r10);
        g.mov(r11, qword[rdi + 0xffd]);   // slow path: page crossing
        g.adc(r12, r11);                  // CF from the CMP, across the slow path
        for (size_t i = 0; i < std::size(regs); ++i) g.xor_(regs[i], regs[(i + 5) % std::size(regs)]);
        g.mov(qword[rdi + 0xffe], r13);   // slow path again, with dirty registers
        g.dec(r14d);
        g.setnz(r15b);
    }));
    uint64_t gpr[16] = {};
    for (int i = 0; i < 16; ++i) gpr[i] = 0x0101010101010101ULL * static_cast<uint64_t>(i + 1) + 0x8000000000000000ULL;
    gpr[hv::RDI] = kDataBuf;
    for (uint64_t f : kFlagSets) {
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            h->poke<uint64_t>(kDataBuf + 0xff8, 0x0807060504030201ULL);
            h->poke<uint64_t>(kDataBuf + 0x1000, 0x100f0e0d0c0b0a09ULL);
        }
        ASSERT_TRUE(p.same(gpr, f));
        EXPECT_EQ(p.interp.read<uint64_t>(kDataBuf + 0x1000), p.bt.read<uint64_t>(kDataBuf + 0x1000));
    }
    EXPECT_GT(p.stats().native_insns, 20u);
}

TEST(BtMemory, PageFaultInAnInlineAccessIsExact) {
    // The 4 KiB page at kPtBase + 0x5000 is made not present: a load, a store and a LOCKed RMW on it
    // fault with the interpreter's RIP, CR2, error code and instruction count.
    const uint64_t hole = kPtBase + 0x5000;
    const std::pair<const char*, SnippetEmit> cases[] = {
        {"load", [](G& g) { g.inc(rcx); g.mov(rax, qword[rdi + 8]); g.inc(rdx); }},
        {"store", [](G& g) { g.inc(rcx); g.inc(rdx); g.mov(dword[rdi + 4], eax); }},
        {"rmw", [](G& g) { g.nop(); g.lock(); g.add(qword[rdi], rcx); }},
    };
    for (auto& [name, emit] : cases) {
        SCOPED_TRACE(name);
        BtPair p;
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            h->set_pte(hole, 0);
            h->set_gate(kPfv, kHandlerErr);
        }
        p.load(assemble_with_hlt(emit));
        uint64_t gpr[16] = {};
        gpr[hv::RDI] = hole;
        for (int run = 0; run < 3; ++run) {   // interpreted, then translated
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
