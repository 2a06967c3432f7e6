/// SMAP and protection keys as guest code meets them, on the interpreter and the translator
/// (whose inline TLB probe reads the class Cpu::update_tlb_class selects): STAC/CLAC and POPF
/// switch the TLB class without a flush, so a supervisor access with AC = 0 after a cached
/// AC = 1 access faults (SDM Vol. 3A 4.6.1); implicit accesses at CPL 3 are checked whatever AC;
/// PKRU (RDPKRU/WRPKRU) and IA32_PKRS keys with CR0.WP and the PK error-code bit (4.6.2, 4.7).
#include "bt_pair.h"
#include "snapshot/cpu_record.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

/// Window pages (user-mode, 4 KiB: emu_harness.h) with TLB sets no other access uses.
constexpr uint64_t kX = kPtBase + 0x30000, kPageA = kPtBase + 0x20000;
constexpr uint64_t kUserCode = kPtBase + 0x50000, kUserStack = kPtBase + 0x52000;
constexpr uint64_t kLdt = kPtBase + 0x44000;
constexpr uint16_t kLdtSel = 0x40, kLdtData = 0x0f;   ///< GDT entry 8; LDT entry 1, RPL 3
constexpr uint64_t kAcFlag = 1u << 18, kKey = 1;
constexpr uint64_t kPf = 14;
constexpr uint32_t kP = 1, kW = 2, kU = 4, kPk = 32;

void* va(uint64_t a) { return reinterpret_cast<void*>(a); }
void clac(G& g) { g.db(0x0f); g.db(0x01); g.db(0xca); }
void rdpkru(G& g) { g.db(0x0f); g.db(0x01); g.db(0xee); }
void wrpkru(G& g) { g.db(0x0f); g.db(0x01); g.db(0xef); }
/// PKRU/IA32_PKRS := `v` (EAX), ECX = EDX = 0 for WRPKRU.
void set_pkru(G& g, uint32_t v) {
    g.mov(eax, v);
    g.xor_(ecx, ecx);
    g.xor_(edx, edx);
    wrpkru(g);
}
/// IRETQ to kUserCode at CPL 3 with RFLAGS `flags`, on the user stack.
void enter_user(G& g, uint64_t flags) {
    g.push(0x23);
    g.mov(rax, kUserStack + 0x800);
    g.push(rax);
    g.mov(rax, flags | 2);
    g.push(rax);
    g.push(0x2b);
    g.mov(rax, kUserCode);
    g.push(rax);
    g.db(0x48);
    g.db(0xcf);
}

class EmuSmapPku : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
        // The low 2 MiB (code, tables, handlers, stacks) becomes supervisor-mode: the 4 KiB
        // window stays user-mode.
        h.poke<uint64_t>(kPd, 0x83);
        h.poke<uint64_t>(kPageA, 0x1234);
        h.set_pte(kX, kPageA | 7);
        h.poke<uint64_t>(kReport, 0xdead);   // the #UD handler stores no error code
    }
    void set_cr4(uint64_t bits) {
        h.cpu().cr4 |= bits;
        h.cpu().update_tlb_class();
    }
    /// Runs `emit` at CPL 0 (then `user` at CPL 3 if any) until the report handlers halt (they
    /// clobber RAX, RBX and RCX).
    void run(const SnippetEmit& emit, const SnippetEmit& user = nullptr) {
        if (user) h.write(kUserCode, assemble_with_hlt(user));
        h.load_code(assemble_with_hlt(emit));
        h.cpu().shared().dma_epoch.fetch_add(1);   // a VMM write: the engines re-verify code
        ASSERT_TRUE(is_halt(h.run()));
    }
    /// A #PF with `err` at `la`.
    void expect_pf(uint32_t err, uint64_t la) {
        ASSERT_TRUE(h.reported()) << "no exception";
        EXPECT_EQ(h.reported_error(), err);
        EXPECT_EQ(h.reported_cr2(), la);
    }
    EmuHarness h;
};

TEST_P(EmuSmapPku, ClacAfterACachedStacAccessFaultsWithoutAFlush) {
    set_cr4(hv::kCr4Smap);
    run([](G& g) {
        g.stac();
        g.mov(rsi, qword[va(kX)]);
        g.mov(qword[va(kX)], rsi);   // read and write translations cached in the AC = 1 class
        clac(g);
        g.mov(rdi, qword[va(kX)]);
    });
    EXPECT_EQ(h.cpu().gpr[hv::RSI], 0x1234u);
    expect_pf(kP, kX);
}

TEST_P(EmuSmapPku, PopfClearingAcEnforcesSmapOnWrites) {
    set_cr4(hv::kCr4Smap);
    run([](G& g) {
        g.pushfq();
        g.or_(dword[rsp], static_cast<uint32_t>(kAcFlag));
        g.popfq();
        g.mov(qword[va(kX)], rsp);
        g.pushfq();
        g.and_(dword[rsp], ~static_cast<uint32_t>(kAcFlag));
        g.popfq();
        g.mov(qword[va(kX)], rsp);
    });
    expect_pf(kP | kW, kX);
}

TEST_P(EmuSmapPku, WithoutSmapSupervisorCodeReachesUserPages) {
    run([](G& g) { g.mov(qword[va(kX)], rsp); });
    EXPECT_FALSE(h.reported());
}

TEST_P(EmuSmapPku, StacAndClacAtCpl3AreUd) {
    run([](G& g) { enter_user(g, 0); }, [](G& g) { g.stac(); });
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_error(), 0xdeadu) << "#UD, not #GP";
    EXPECT_EQ(h.reported_rip(), kUserCode);
    h.poke<uint64_t>(kReport + 0x18, 0);
    run([](G& g) { enter_user(g, 0); }, [](G& g) { clac(g); });
    EXPECT_EQ(h.reported_rip(), kUserCode);
}

TEST_P(EmuSmapPku, ImplicitAccessAtCpl3IsCheckedWhateverAc) {
    // An LDT in a user-mode page: MOV DS at CPL 3 reads its descriptor with an implicit
    // supervisor-mode access, which SMAP forbids even with EFLAGS.AC = 1 (SDM Vol. 3A 4.6.1).
    const uint64_t data3 = 0xffffULL | (0xfULL << 48) | (0x3ULL << 40) | (1ULL << 44) | (3ULL << 45) | (1ULL << 47) |
                           (1ULL << 54) | (1ULL << 55);
    h.poke<uint64_t>(kLdt + 8, data3);
    h.poke<uint64_t>(kGdt + kLdtSel, 0xf | ((kLdt & 0xffffff) << 16) | (0x2ULL << 40) | (1ULL << 47) |
                                         (((kLdt >> 24) & 0xff) << 56));
    h.poke<uint64_t>(kGdt + kLdtSel + 8, 0);
    h.cpu().gdt.limit = 0x4f;
    auto user = [](G& g) {
        g.mov(eax, kLdtData);
        g.mov(ds, ax);
    };
    auto kernel = [](G& g) {
        g.mov(eax, kLdtSel);
        g.db(0x0f); g.db(0x00); g.db(0xd0);   // LLDT AX
        enter_user(g, kAcFlag);
    };
    run(kernel, user);
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_error(), 0u) << "without SMAP: the descriptor loads, HLT is #GP(0)";
    h.poke<uint64_t>(kReport + 0x18, 0);
    set_cr4(hv::kCr4Smap);
    h.cpu().flush_tlb();
    run(kernel, user);
    expect_pf(kP, kLdt + 8);
}

TEST_P(EmuSmapPku, PkruWriteDisableAtCpl3) {
    set_cr4(hv::kCr4Pke);
    h.set_pte(kX, kPageA | 7 | (kKey << 59));
    run([](G& g) {
        set_pkru(g, 2u << (2 * kKey));   // WD
        enter_user(g, 0);
    }, [](G& g) {
        g.mov(rsi, qword[va(kX)]);
        g.mov(qword[va(kX)], rsi);
    });
    EXPECT_EQ(h.cpu().gpr[hv::RSI], 0x1234u) << "WD allows reads";
    expect_pf(kP | kW | kU | kPk, kX);
}

TEST_P(EmuSmapPku, PkruWriteDisableAtCpl0FollowsWp) {
    set_cr4(hv::kCr4Pke);
    h.set_pte(kX, kPageA | 7 | (kKey << 59));
    auto code = [](G& g) {
        set_pkru(g, 2u << (2 * kKey));
        g.mov(qword[va(kX)], rsp);
    };
    h.cpu().cr0 &= ~hv::kCr0Wp;
    h.cpu().flush_tlb();
    run(code);
    EXPECT_FALSE(h.reported()) << "CR0.WP = 0";
    h.cpu().cr0 |= hv::kCr0Wp;
    h.cpu().flush_tlb();
    run(code);
    expect_pf(kP | kW | kPk, kX);
}

TEST_P(EmuSmapPku, WrpkruAccessDisableDropsCachedTranslations) {
    set_cr4(hv::kCr4Pke);
    h.set_pte(kX, kPageA | 7 | (kKey << 59));
    run([](G& g) {
        g.mov(rbx, qword[va(kX)]);   // cached with PKRU = 0
        set_pkru(g, 1u << (2 * kKey));   // AD
        rdpkru(g);
        g.mov(rsi, rax);
        g.mov(rbx, qword[va(kX)]);
    });
    EXPECT_EQ(h.cpu().gpr[hv::RSI], 1u << (2 * kKey)) << "RDPKRU";
    expect_pf(kP | kPk, kX);
}

TEST_P(EmuSmapPku, RdpkruAndWrpkruChecks) {
    run([](G& g) { rdpkru(g); });   // CR4.PKE = 0
    EXPECT_EQ(h.reported_error(), 0xdeadu) << "#UD";
    set_cr4(hv::kCr4Pke);
    h.poke<uint64_t>(kReport + 0x18, 0);
    run([](G& g) { g.mov(ecx, 1); rdpkru(g); });
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_error(), 0u) << "#GP(0): ECX != 0";
    h.poke<uint64_t>(kReport, 0xdead);
    h.poke<uint64_t>(kReport + 0x18, 0);
    run([](G& g) { g.xor_(eax, eax); g.xor_(ecx, ecx); g.mov(edx, 1); wrpkru(g); });
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_error(), 0u) << "#GP(0): EDX != 0";
    EXPECT_EQ(h.cpu().pkru, 0u);
}

TEST_P(EmuSmapPku, PkrsGuardsSupervisorPages) {
    set_cr4(hv::kCr4Pks);
    h.set_pte(kX, kPageA | 3 | (2ULL << 59));   // supervisor-mode, key 2
    run([](G& g) {
        g.mov(rbx, qword[va(kX)]);
        g.mov(ecx, 0x6e1);
        g.mov(eax, 1u << 4);   // AD for key 2
        g.xor_(edx, edx);
        g.wrmsr();
        g.rdmsr();
        g.mov(rsi, rax);
        g.mov(rbx, qword[va(kX)]);
    });
    EXPECT_EQ(h.cpu().gpr[hv::RSI], 1u << 4);
    expect_pf(kP | kPk, kX);
}

TEST_P(EmuSmapPku, SnapshotsKeepPkruAndPkrs) {
    h.cpu().pkru = 0xc;
    h.cpu().pkrs = 0x30;
    const snapshot::CpuRecord rec = snapshot::capture(h.cpu(), true);
    h.cpu().pkru = h.cpu().pkrs = 0;
    snapshot::apply(rec, h.cpu());
    EXPECT_EQ(h.cpu().pkru, 0xcu);
    EXPECT_EQ(h.cpu().pkrs, 0x30u);
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuSmapPku, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "bt" : "interp"; });

}  // namespace
}  // namespace popek::emu::test
