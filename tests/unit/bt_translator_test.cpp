/// The block translator's machinery: translated code really runs and is reused, stale code never
/// runs (self-modifying code, VMM writes), faults inside a translated block leave the state the
/// interpreter leaves, a full code buffer is flushed, translated code is never writable.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "bt_pair.h"
#include "emu/bt/code_buffer.h"
#include "emu/bt/perf_map.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

class BtTranslator : public ::testing::Test {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.cpu().shared().translate_after = 1;   // the production setting: translated on the 2nd run
        h.cpu().enable_translation();
    }
    void run_from(uint64_t rip) {
        h.cpu().rip = rip;
        ASSERT_TRUE(is_halt(h.run()));
        ASSERT_FALSE(h.reported()) << "exception at rip " << std::hex << h.reported_rip();
    }
    const bt::TranslatorStats& stats() { return h.cpu().translator()->stats(); }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    EmuHarness h;
};

TEST_F(BtTranslator, SecondRunIsTranslatedAndComputesTheSame) {
    h.load_code(assemble_with_hlt([](G& g) { g.add(rax, rcx); g.lea(rdx, ptr[rax + rax * 2 + 1]); g.mov(bh, al); }));
    for (int run = 0; run < 3; ++run) {
        r(hv::RAX) = 0x1ffff;
        r(hv::RCX) = 2;
        r(hv::RBX) = 0xffff'ffff'ffff'ffffULL;
        run_from(kCode);
        EXPECT_EQ(r(hv::RAX), 0x20001u);
        EXPECT_EQ(r(hv::RDX), 0x60004u);
        EXPECT_EQ(r(hv::RBX), 0xffff'ffff'ffff'01ffULL);
        EXPECT_EQ(h.cpu().rip, kCode + 11u);   // after the HLT: 3 + 5 + 2 bytes, then HLT
        EXPECT_EQ(stats().blocks, run == 0 ? 0u : 1u) << "run " << run;   // translated once, then reused
    }
    EXPECT_EQ(stats().native_insns, 3u);
    EXPECT_EQ(stats().helper_insns, 1u);   // HLT
    EXPECT_EQ(h.cpu().stats().instructions, 12u);
}

TEST_F(BtTranslator, GuestRewritingATranslatedBlockRunsTheNewCode) {
    // The block at kCode: mov eax, imm32; hlt. The patcher (kCode + 0x100) rewrites the immediate.
    h.load_code(assemble_with_hlt([](G& g) { g.mov(eax, 1); }));
    h.write(kCode + 0x100, assemble_with_hlt([](G& g) { g.mov(dword[reinterpret_cast<void*>(kCode + 1)], 2); }));
    run_from(kCode);
    run_from(kCode);
    ASSERT_EQ(stats().blocks, 1u);
    EXPECT_EQ(r(hv::RAX), 1u);
    run_from(kCode + 0x100);
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 2u) << "stale translation ran";
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 2u);
}

TEST_F(BtTranslator, BlockWritingItsOwnCodeStopsAndRunsTheNewCode) {
    // add ecx,1; mov word [next], 0x9090 (the "inc edx" after it becomes two NOPs); inc edx; hlt.
    // Translated on its first run, so the write happens inside translated code.
    h.cpu().set_translator(std::make_unique<bt::Translator>(h.cpu(), 0));
    const uint64_t inc_at = kCode + 3 + 10;   // after add ecx,1 (3 bytes) and the 10-byte MOV
    const auto code = assemble_with_hlt([&](G& g) {
        g.add(ecx, 1);
        g.mov(word[reinterpret_cast<void*>(inc_at)], 0x9090);
        g.inc(edx);
    });
    for (int run = 0; run < 2; ++run) {
        h.load_code(code);
        h.cpu().shared().dma_epoch.fetch_add(1);
        ASSERT_EQ(h.read<uint16_t>(inc_at), 0xc2ffu);   // the encoding of inc edx
        r(hv::RCX) = 0;
        r(hv::RDX) = 0;
        run_from(kCode);
        EXPECT_EQ(r(hv::RCX), 1u);
        EXPECT_EQ(r(hv::RDX), 0u) << "run " << run << ": the overwritten inc edx ran";
        EXPECT_EQ(h.read<uint16_t>(inc_at), 0x9090u);
    }
    // Per run: the block that writes (left after the write), then the rewritten rest (NOP NOP HLT).
    EXPECT_EQ(stats().blocks, 4u);
}

TEST_F(BtTranslator, VmmWriteToATranslatedBlockIsSeen) {
    h.load_code(assemble_with_hlt([](G& g) { g.mov(eax, 7); }));
    run_from(kCode);
    run_from(kCode);
    ASSERT_EQ(stats().blocks, 1u);
    h.poke<uint32_t>(kCode + 1, 9);                   // DMA into the code page
    h.cpu().shared().dma_epoch.fetch_add(1);          // as hv::Vcpu::run does after every exit
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 9u);
}

TEST_F(BtTranslator, AFullBlockMapDropsUntranslatedBlocksAndKeepsTranslations) {
    // One-instruction blocks (a RET at each byte of a sled, called once each) overflow the block
    // map: the blocks never translated go, the hot loop's translations stay: no code-buffer
    // flush, the loop not translated again on a second pass over evicted blocks.
    constexpr uint64_t kSled = 0x100000;
    constexpr auto kTargets = static_cast<uint32_t>(BlockCache::kMaxBlocks + 4000);
    static_assert(kSled + kTargets < 0x200000, "the sled lies in the 2 MiB page at 0");
    h.cpu().set_translator(std::make_unique<bt::Translator>(h.cpu(), 3));   // RETs run twice at most
    h.write(kSled, std::vector<uint8_t>(kTargets, 0xc3));
    h.load_code(assemble_with_hlt([&](G& g) {
        Xbyak::Label top;
        g.mov(ecx, kTargets);
        g.mov(ebx, static_cast<uint32_t>(kSled));
        g.L(top);
        g.call(rbx);
        g.inc(rbx);
        g.dec(ecx);
        g.jnz(top);
    }));
    run_from(kCode);
    EXPECT_EQ(r(hv::RBX), kSled + kTargets);
    const uint64_t translated = stats().blocks;
    EXPECT_GE(translated, 1u);
    EXPECT_LE(translated, 4u);
    const auto& m = h.cpu().block_cache().misses();
    EXPECT_EQ(m.evictions, 1u);
    EXPECT_EQ(m.clears, 0u);
    EXPECT_EQ(stats().flushes, 0u) << "the translations were flushed with the blocks";
    run_from(kCode);   // every RET again: the ones evicted are decoded again
    EXPECT_EQ(r(hv::RBX), kSled + kTargets);
    EXPECT_EQ(m.evictions, 2u);
    EXPECT_EQ(m.clears, 0u);
    EXPECT_EQ(stats().flushes, 0u);
    EXPECT_EQ(stats().blocks, translated) << "the loop was translated again";
    EXPECT_EQ(h.cpu().stats().instructions, 2 * (2 + 5 * uint64_t{kTargets} + 1));   // CALL, RET, INC, DEC, JNZ
}

TEST(BtFaults, FaultInATranslatedBlockLeavesTheInterpreterState) {
    // Native code before and after a faulting load: the fault reports its own RIP, the native
    // instruction before it has run, the one after it has not, and both engines count the same.
    BtPair p;
    p.load(assemble_with_hlt([](G& g) {
        g.add(r8, r9);
        g.inc(edx);
        g.mov(rbx, ptr[rsi]);
        g.xor_(r8, r8);
    }));
    uint64_t gpr[16] = {};
    gpr[hv::R8] = 5;
    gpr[hv::R9] = 6;
    gpr[hv::RSI] = 0x8000'0000'0000ULL;   // canonical but unmapped: #PF
    for (int run = 0; run < 3; ++run) {
        ASSERT_TRUE(p.same(gpr, kCf));
        EXPECT_TRUE(p.bt.reported());
        EXPECT_EQ(p.bt.reported_rip(), kCode + 5);
        EXPECT_EQ(p.bt.cpu().gpr[hv::R8], 11u);   // (the report handler uses RAX..RCX)
        EXPECT_EQ(p.bt.cpu().gpr[hv::RDX], 1u);
    }
    EXPECT_GE(p.stats().blocks, 1u);
}

TEST(BtCodeBuffer, FullBufferIsFlushedAndTranslationsRedone) {
    EmuHarness h;
    h.setup_long_mode();
    h.cpu().shared().translate_after = 0;
    // Room for one block (each translation reserves kMaxBlockCode): every new one flushes.
    h.cpu().set_translator(std::make_unique<bt::Translator>(h.cpu(), 0, bt::Translator::kMaxBlockCode));
    for (int i = 0; i < 12; ++i)
        h.write(kCode + 0x40 * static_cast<uint64_t>(i), assemble_with_hlt([i](G& g) { g.add(eax, i + 1); }));
    h.cpu().gpr[hv::RAX] = 0;
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 12; ++i) {
            h.cpu().rip = kCode + 0x40 * static_cast<uint64_t>(i);
            ASSERT_TRUE(is_halt(h.run()));
        }
    }
    EXPECT_EQ(h.cpu().gpr[hv::RAX], 2u * 78u);
    const auto& st = h.cpu().translator()->stats();
    EXPECT_EQ(st.flushes, 23u);
    EXPECT_EQ(st.blocks, 24u);
    EXPECT_EQ(st.failures, 0u);
}

/// Permissions of the mapping holding `p`, from /proc/self/maps ("r-xp", ...).
std::string permissions_of(const void* p) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    const auto a = reinterpret_cast<uintptr_t>(p);
    while (std::getline(maps, line)) {
        uintptr_t lo = 0, hi = 0;
        char dash;
        std::string perms;
        std::istringstream in(line);
        in >> std::hex >> lo >> dash >> hi >> perms;
        if (a >= lo && a < hi) return perms;
    }
    return "unmapped";
}

TEST(BtCodeBuffer, CodeIsNeverWritableAndExecutableInOneMapping) {
    bt::CodeBuffer buf(1 << 20);
    ASSERT_TRUE(buf.ok());
    uint8_t* at = buf.begin_write(4096);
    ASSERT_NE(at, nullptr);
    EXPECT_EQ(permissions_of(at).substr(0, 3), "rw-");
    at[0] = 0xb8;   // mov eax, 42; ret
    at[1] = 42;
    at[2] = at[3] = at[4] = 0;
    at[5] = 0xc3;
    const uint8_t* code = buf.end_write(6);
    ASSERT_NE(code, at);                                   // two views of the same memory
    EXPECT_EQ(permissions_of(code).substr(0, 3), "r-x");
    EXPECT_EQ(permissions_of(at).substr(0, 3), "rw-");     // the writable view never executes
    EXPECT_EQ(reinterpret_cast<int (*)()>(const_cast<uint8_t*>(code))(), 42);
    EXPECT_EQ(buf.begin_write(2u << 20), nullptr);   // more than the buffer holds
    const uint32_t epoch = buf.epoch();
    buf.flush();
    EXPECT_NE(buf.epoch(), epoch);
    EXPECT_EQ(buf.used(), 0u);
}

}  // namespace
}  // namespace popek::emu::test

namespace popek::emu::test {
namespace {

TEST_F(BtTranslator, LoopChainsToItselfAndCountsExactly) {
    // mov ecx, 1000; 1: add eax, 3; dec ecx; jnz 1b; hlt
    h.load_code(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.mov(ecx, 1000);
        g.L(top);
        g.add(eax, 3);
        g.dec(ecx);
        g.jnz(top);
    }));
    r(hv::RAX) = 0;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 3000u);
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(h.cpu().stats().instructions, 1u + 3u * 1000u + 1u);
    EXPECT_GE(stats().links, 1u);
    EXPECT_LE(stats().blocks, 3u);   // the loop body was translated once and reused
}

TEST_F(BtTranslator, ChainedEndlessLoopStillStopsOnRequest) {
    h.load_code(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.inc(rax);
        g.jmp(top);
    }));
    std::thread stopper([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        h.cpu().request_stop();
    });
    h.cpu().rip = kCode;
    auto exit = h.run();
    stopper.join();
    ASSERT_TRUE(std::holds_alternative<hv::Shutdown>(exit));
    EXPECT_GT(r(hv::RAX), 10000u);
    EXPECT_GE(stats().links, 1u);
    EXPECT_EQ(h.cpu().stats().instructions, 2 * r(hv::RAX));   // exact at every block boundary
}

TEST(BtWrap, RealModeJumpWrappingAtSixtyFourKiBIsNotChainedIntoThePage) {
    // CS base 0x10010, IP 0xfff0: linear 0x20000 holds "jmp +0x20". The target IP wraps to
    // 0x0012 (linear 0x10022), not 0x10012 (linear 0x20022, on the branch's own page).
    EmuHarness h;
    h.setup_real();
    h.cpu().shared().translate_after = 0;
    h.cpu().enable_translation();
    h.write(0x20000, {0xeb, 0x20});                  // jmp short +0x20
    h.write(0x20022, {0xb8, 0x01, 0x00, 0xf4});      // mov ax, 1; hlt  (the wrong target)
    h.write(0x10022, {0xb8, 0x02, 0x00, 0xf4});      // mov ax, 2; hlt
    for (int run = 0; run < 3; ++run) {
        h.cpu().seg[kCs].base = 0x10010;
        h.cpu().rip = 0xfff0;
        h.cpu().gpr[hv::RAX] = 0;
        ASSERT_TRUE(is_halt(h.run()));
        EXPECT_EQ(h.cpu().gpr[hv::RAX], 2u) << "run " << run;
        EXPECT_EQ(h.cpu().rip, 0x16u);
    }
}

}  // namespace
}  // namespace popek::emu::test

namespace popek::emu::test {
namespace {

TEST(BtPerfMap, EachTranslatedBlockGetsALinePerfCanRead) {
    // perf's JIT map format: "START SIZE NAME", START and SIZE in hex, START inside the code buffer.
    char path[] = "/tmp/popek-perf-map-test-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    EmuHarness h;
    h.setup_long_mode();
    h.cpu().shared().perf_map = PerfMap::open(path);
    ASSERT_TRUE(h.cpu().shared().perf_map);
    h.cpu().shared().translate_after = 0;
    h.cpu().enable_translation();
    h.load_code(assemble_with_hlt([](Xbyak::CodeGenerator& g) { g.add(g.eax, 1); }));
    ASSERT_TRUE(is_halt(h.run()));
    h.cpu().shared().perf_map.reset();
    std::ifstream in(path);
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << "no block named";
    unsigned long long start = 0, size = 0;
    char name[128] = {};
    ASSERT_EQ(std::sscanf(line.c_str(), "%llx %llx %127[^\n]", &start, &size, name), 3) << line;
    EXPECT_NE(start, 0u);
    EXPECT_GT(size, 0u);
    EXPECT_NE(std::string(name).find(fmt::format("rip={:#x}", kCode)), std::string::npos) << line;
    std::remove(path);
}

}  // namespace
}  // namespace popek::emu::test
