/// Debug registers (SDM Vol. 3B 18.2, 18.3) on interp and bt: DR0-DR3 instruction breakpoints
/// (fault before the instruction, RF), data watchpoints (trap after the instruction; write-only
/// and read/write; lengths 1, 2, 4, 8), DR6 B0-B3/BS/BD, DR7.GD, the MOV SS / POP SS hold of a
/// #DB for one instruction (SDM Vol. 3A 6.8.3), INT1 (ICEBP) and INT3.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

// The counting #DB handler's records.
constexpr uint64_t kCount = 0x7100, kSetRf = 0x7108, kLimit = 0x7110;
constexpr uint64_t kRips = 0x7200, kDr6s = 0x7300;
constexpr uint64_t kDbHandler = 0xc000;
constexpr uint64_t kData = 0x60000;   // a watched variable (RAM, identity mapped)
constexpr uint16_t kData16() { return 0x10; }   // the harness's data selector

/// An absolute 32-bit address operand (xbyak takes a bare 64-bit number for moffs forms only).
Xbyak::RegExp abs_(uint64_t a) { return Xbyak::RegExp(static_cast<size_t>(a)); }

void emit(G& g, std::initializer_list<uint8_t> bytes) {
    for (uint8_t b : bytes) g.db(b);
}

/// #DB handler: records the saved RIP and DR6, clears DR6, sets RF in the frame when kSetRf
/// says so; after kLimit #DBs it disables DR7 and clears TF in the frame (no endless loop).
std::vector<uint8_t> counting_handler() {
    return assemble_with_hlt([](G& g) {
        Xbyak::Label go_on;
        g.push(rax);
        g.push(rbx);
        g.mov(rbx, qword[abs_(kCount)]);
        g.mov(rax, qword[rsp + 16]);
        g.mov(qword[rbx * 8 + kRips], rax);
        emit(g, {0x0f, 0x21, 0xf0});   // mov rax, dr6
        g.mov(qword[rbx * 8 + kDr6s], rax);
        g.xor_(eax, eax);
        emit(g, {0x0f, 0x23, 0xf0});   // mov dr6, rax
        g.inc(qword[abs_(kCount)]);
        g.cmp(qword[abs_(kSetRf)], 0);
        g.je(go_on);
        g.or_(dword[rsp + 32], 0x10000);   // RF in the saved RFLAGS
        g.L(go_on);
        Xbyak::Label out;
        g.mov(rbx, qword[abs_(kCount)]);
        g.cmp(rbx, qword[abs_(kLimit)]);
        g.jb(out);
        g.mov(eax, 0x400);
        emit(g, {0x0f, 0x23, 0xf8});   // mov dr7, rax
        g.and_(dword[rsp + 32], ~0x100);
        g.L(out);
        g.pop(rbx);
        g.pop(rax);
        emit(g, {0x48, 0xcf});   // iretq
    });
}

class EmuDebugRegs : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
        h.write(kDbHandler, counting_handler());
        h.set_gate(kDb, kDbHandler);
        h.poke<uint64_t>(kLimit, 16);
        h.poke<uint64_t>(kSetRf, 1);
    }
    /// Runs `body` (then HLT) to its end; false when it stopped elsewhere.
    bool run(const std::function<void(G&)>& body) {
        h.load_code(assemble_with_hlt(body));
        h.cpu().shared().dma_epoch.fetch_add(1);   // a VMM write: decoded code is re-verified
        auto e = h.run();
        return is_halt(e) && !h.reported();
    }
    void arm(unsigned n, uint64_t addr, uint64_t dr7) {
        h.cpu().dr[n] = addr;
        h.cpu().dr[7] = dr7 | 0x400;
        h.cpu().update_debug();
    }
    uint64_t count() { return h.read<uint64_t>(kCount); }
    uint64_t saved_rip(int k) { return h.read<uint64_t>(kRips + uint64_t(k) * 8); }
    uint64_t dr6(int k) { return h.read<uint64_t>(kDr6s + uint64_t(k) * 8); }
    /// DR7 for a data watchpoint in DRn: L bit, R/W, LEN (00 1, 01 2, 10 8, 11 4 bytes).
    static uint64_t watch(unsigned n, unsigned rw, unsigned len) {
        const unsigned code = len == 1 ? 0 : len == 2 ? 1 : len == 8 ? 2 : 3;
        return (1ULL << (2 * n)) | (uint64_t{rw} << (16 + 4 * n)) | (uint64_t{code} << (18 + 4 * n));
    }
    EmuHarness h;
};

TEST_P(EmuDebugRegs, InstructionBreakpointFaultsBeforeTheInstruction) {
    Xbyak::Label target;
    size_t at = 0;
    // DR2 = target, set by the guest itself (MOV DR ends the block: the next fetch is checked).
    ASSERT_TRUE(run([&](G& g) {
        g.lea(rax, ptr[rip + target]);
        emit(g, {0x0f, 0x23, 0xd0});   // mov dr2, rax
        g.mov(eax, 0x400 | (2u << 4));   // G2
        emit(g, {0x0f, 0x23, 0xf8});   // mov dr7, rax
        g.nop();
        g.L(target);
        at = g.getSize();
        g.mov(ecx, 7);
    }));
    ASSERT_EQ(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + at) << "fault: the saved RIP is the breakpoint's instruction";
    EXPECT_EQ(dr6(0), 0xffff0ff4u) << "B2 only";
    EXPECT_EQ(h.cpu().gpr[hv::RCX], 7u) << "the instruction ran after the handler set RF";
}

TEST_P(EmuDebugRegs, NoInstructionBreakpointRightAfterMovSs) {
    // Intel: the instruction after MOV SS has its instruction breakpoint suppressed (SDM Vol. 3A
    // 6.8.3); the same breakpoint one instruction later is reported.
    size_t after = 0, later = 0;
    h.load_code(assemble_with_hlt([&](G& g) {
        g.mov(eax, ss);
        g.mov(ss, eax);
        after = g.getSize();
        g.xor_(ecx, ecx);
        later = g.getSize();
        g.mov(edx, 5);
    }));
    arm(0, kCode + after, 1 | (1u << 2));   // L0, L1: execute breakpoints (R/W 00, LEN 00)
    h.cpu().dr[1] = kCode + later;
    h.cpu().update_debug();
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(count(), 1u) << "only the breakpoint one instruction after MOV SS";
    EXPECT_EQ(saved_rip(0), kCode + later);
    EXPECT_EQ(h.cpu().gpr[hv::RDX], 5u);
}

TEST_P(EmuDebugRegs, WithoutRfTheBreakpointRepeats) {
    h.poke<uint64_t>(kSetRf, 0);
    h.poke<uint64_t>(kLimit, 3);   // then the handler disables DR7
    size_t at = 0;
    h.load_code(assemble_with_hlt([&](G& g) {
        g.nop();
        at = g.getSize();
        g.mov(ecx, 7);
    }));
    arm(0, kCode + at, 1);
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(count(), 3u);
    EXPECT_EQ(saved_rip(2), kCode + at);
    EXPECT_EQ(h.cpu().gpr[hv::RCX], 7u);
}

TEST_P(EmuDebugRegs, RfSetByIretSkipsOneBreakpointCheckOnly) {
    // The handler's RF covers the breakpoint's instruction; the same address hit again later
    // (a loop of two iterations) faults again.
    size_t at = 0;
    h.load_code(assemble_with_hlt([&](G& g) {
        Xbyak::Label loop;
        g.mov(ecx, 2);
        g.L(loop);
        at = g.getSize();
        g.dec(ecx);
        g.jnz(loop);
    }));
    arm(1, kCode + at, 1u << 2);
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(count(), 2u);
    EXPECT_EQ(dr6(1), 0xffff0ff2u);
}

TEST_P(EmuDebugRegs, WriteWatchpointTrapsAfterTheWrite) {
    size_t after = 0;
    arm(1, kData, watch(1, 1, 4));
    ASSERT_TRUE(run([&](G& g) {
        g.mov(eax, dword[abs_(kData)]);   // a read: no #DB on a write-only watchpoint
        g.mov(dword[abs_(kData)], eax);
        after = g.getSize();
        g.nop();
    }));
    ASSERT_EQ(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + after) << "trap: the saved RIP follows the writing instruction";
    EXPECT_EQ(dr6(0), 0xffff0ff2u) << "B1";
}

TEST_P(EmuDebugRegs, ReadWriteWatchpointTrapsOnARead) {
    size_t after = 0;
    arm(3, kData + 8, watch(3, 3, 8));
    ASSERT_TRUE(run([&](G& g) {
        g.mov(al, byte[abs_(kData + 15)]);
        after = g.getSize();
        g.nop();
    }));
    ASSERT_EQ(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + after);
    EXPECT_EQ(dr6(0), 0xffff0ff8u) << "B3";
}

TEST_P(EmuDebugRegs, WatchpointLengthsCoverTheirBytesOnly) {
    for (unsigned len : {1u, 2u, 4u, 8u}) {
        SCOPED_TRACE(len);
        h.poke<uint64_t>(kCount, 0);
        h.cpu().rip = kCode;
        h.cpu().gpr[hv::RSP] = kStackTop;
        arm(0, kData + 0x40, watch(0, 1, len));
        ASSERT_TRUE(run([&](G& g) {
            g.mov(byte[abs_(kData + 0x40 + len)], al);       // just past the range: no #DB
            g.mov(byte[abs_(kData + 0x40 - 1)], al);         // just before it
            g.mov(byte[abs_(kData + 0x40 + len - 1)], al);   // its last byte: #DB
        }));
        EXPECT_EQ(count(), 1u);
    }
}

TEST_P(EmuDebugRegs, LockedReadModifyWriteHitsAWriteWatchpoint) {
    arm(0, kData, watch(0, 1, 8));
    ASSERT_TRUE(run([&](G& g) {
        g.lock();
        g.add(qword[abs_(kData)], 1);
    }));
    EXPECT_EQ(count(), 1u);
    EXPECT_EQ(h.read<uint64_t>(kData), 1u);
}

TEST_P(EmuDebugRegs, SingleStepDr6BsWithBreakpointStatusKept) {
    // A watchpoint hit by a single-stepped instruction: one #DB with BS and B0.
    arm(0, kData, watch(0, 1, 4));
    size_t after = 0;
    ASSERT_TRUE(run([&](G& g) {
        g.pushfq();
        g.or_(qword[rsp], 0x100);
        g.popfq();
        g.mov(dword[abs_(kData)], eax);
        after = g.getSize();
        g.pushfq();
        g.and_(qword[rsp], ~0x100);
        g.popfq();
    }));
    ASSERT_GE(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + after);
    EXPECT_EQ(dr6(0), 0xffff0ff0u | kDr6Bs | 1u);
}

TEST_P(EmuDebugRegs, MovSsHoldsTheSingleStepTrapForOneInstruction) {
    size_t after_nop = 0;
    ASSERT_TRUE(run([&](G& g) {
        g.pushfq();
        g.or_(qword[rsp], 0x100);
        g.mov(ax, ss);
        g.popfq();
        g.mov(ss, ax);   // TF set: its trap is held...
        g.nop();         // ...and arrives after this one, as one #DB
        after_nop = g.getSize();
        g.pushfq();
        g.and_(qword[rsp], ~0x100);
        g.popfq();
    }));
    ASSERT_EQ(count(), 4u);   // after the NOP, PUSHF, AND and POPF
    EXPECT_EQ(saved_rip(0), kCode + after_nop);
    EXPECT_EQ(dr6(0), 0xffff0ff0u | kDr6Bs);
}

/// POP SS exists outside 64-bit mode only: 32-bit protected mode, a hand-assembled #DB handler.
class EmuDebugRegs32 : public ::testing::TestWithParam<bool> {};

TEST_P(EmuDebugRegs32, PopSsHoldsTheSingleStepTrapForOneInstruction) {
    EmuHarness h;
    h.setup_protected32();
    h.use_translator(GetParam());
    // #DB handler (32-bit): records the saved EIP and DR6 once, clears TF in the frame, IRETD.
    h.write(kDbHandler, {0x50,                                       // push eax
                         0x8b, 0x44, 0x24, 0x04,                     // mov eax, [esp+4]
                         0xa3, 0x00, 0x72, 0x00, 0x00,               // mov [kRips], eax
                         0x0f, 0x21, 0xf0,                           // mov eax, dr6
                         0xa3, 0x00, 0x73, 0x00, 0x00,               // mov [kDr6s], eax
                         0xff, 0x05, 0x00, 0x71, 0x00, 0x00,         // inc dword [kCount]
                         0x81, 0x64, 0x24, 0x0c, 0xff, 0xfe, 0xff, 0xff,   // and dword [esp+12], ~TF
                         0x58, 0xcf});                               // pop eax; iretd
    const uint64_t gate = (kDbHandler & 0xffff) | (uint64_t{kCode32} << 16) | (0x8eULL << 40) |
                          ((kDbHandler >> 16) << 48);
    h.poke<uint64_t>(kIdt + 8 * kDb, gate);
    h.load_code({0x16,                                      // push ss
                 0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d,   // pushfd; or [esp], TF; popfd
                 0x17,                                      // pop ss: TF set, its trap is held...
                 0x90,                                      // ...until after this NOP
                 0xf4});
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(h.read<uint32_t>(kCount), 1u);
    EXPECT_EQ(h.read<uint32_t>(kRips), kCode + 12) << "one #DB, after the instruction following POP SS";
    EXPECT_EQ(h.read<uint32_t>(kDr6s), 0xffff0ff0u | kDr6Bs);
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuDebugRegs32, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

TEST_P(EmuDebugRegs, GeneralDetectFaultsOnMovDr) {
    h.cpu().dr[7] = 0x400 | kDr7Gd;
    h.cpu().update_debug();
    ASSERT_TRUE(run([&](G& g) {
        g.nop();
        emit(g, {0x0f, 0x21, 0xc1});   // mov rcx, dr0: #DB (BD) before it; GD cleared; then it runs
    }));
    ASSERT_EQ(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + 1);
    EXPECT_EQ(dr6(0), 0xffff0ff0u | kDr6Bd);
    EXPECT_FALSE(h.cpu().dr[7] & kDr7Gd);
}

TEST_P(EmuDebugRegs, Int1IsATrapThatLeavesDr6Alone) {
    ASSERT_TRUE(run([&](G& g) {
        emit(g, {0xf1});
        g.nop();
    }));
    ASSERT_EQ(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + 1);
    EXPECT_EQ(dr6(0), 0xffff0ff0u);
}

TEST_P(EmuDebugRegs, Int3IsATrapToVector3) {
    h.set_gate(kBp, kDbHandler);
    ASSERT_TRUE(run([&](G& g) {
        g.int3();
        g.nop();
    }));
    ASSERT_EQ(count(), 1u);
    EXPECT_EQ(saved_rip(0), kCode + 1);
}

TEST_P(EmuDebugRegs, MovSsWatchpointThenInt3DeliversBoth) {
    // kvm-unit-tests debug "MOV SS + watchpoint + INT3": the held #DB follows the #BP delivery,
    // so the #DB handler runs first (at the #BP handler's entry), then the #BP handler.
    constexpr uint64_t kBpHandler = 0xd000;
    h.write(kBpHandler, counting_handler());
    h.set_gate(kBp, kBpHandler);
    h.poke<uint16_t>(kData, kData16());
    arm(1, kData, watch(1, 3, 4));
    size_t after = 0;
    ASSERT_TRUE(run([&](G& g) {
        g.mov(ss, word[abs_(kData)]);
        g.int3();
        after = g.getSize();
    }));
    ASSERT_EQ(count(), 2u);
    EXPECT_EQ(saved_rip(0), kBpHandler) << "the held #DB arrives at the #BP handler's first instruction";
    EXPECT_EQ(dr6(0), 0xffff0ff2u);
    EXPECT_EQ(saved_rip(1), kCode + after);
}

TEST_P(EmuDebugRegs, MovSsWatchpointThenIcebpDeliversOneDb) {
    h.poke<uint16_t>(kData, kData16());
    arm(1, kData, watch(1, 3, 4));
    ASSERT_TRUE(run([&](G& g) {
        g.mov(ss, word[abs_(kData)]);
        emit(g, {0x2e, 0x2e, 0xf1});
    }));
    EXPECT_EQ(count(), 1u);
}

/// The same machine, on bt only (what is checked is that no translated code runs).
class EmuDebugRegsBt : public EmuDebugRegs {};

TEST_P(EmuDebugRegsBt, TranslatedCodeIsNotRunWhileArmed) {
    ASSERT_NE(h.cpu().translator(), nullptr);
    arm(0, kData, watch(0, 1, 4));   // armed, never hit: every instruction is interpreted
    ASSERT_TRUE(run([&](G& g) {
        g.mov(ecx, 100);
        Xbyak::Label loop;
        g.L(loop);
        g.dec(ecx);
        g.jnz(loop);
    }));
    EXPECT_EQ(count(), 0u);
    EXPECT_EQ(h.cpu().interpreted(), h.cpu().stats().instructions) << "no instruction ran as translated code";
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuDebugRegs, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });
INSTANTIATE_TEST_SUITE_P(Engines, EmuDebugRegsBt, ::testing::Values(true), [](const auto&) { return std::string("bt"); });

}  // namespace
}  // namespace popek::emu::test
