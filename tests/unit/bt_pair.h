#pragma once
/// Two copies of the emu test machine: one interprets, one runs the block translator (every block
/// translated on its first run). A snippet is run on both from the same registers and flags and
/// the results compared, so the translator is checked against the interpreter it must equal.
#include <xbyak/xbyak.h>

#include <functional>
#include <string>

#include "emu/bt/translator.h"
#include "emu_harness.h"

namespace popek::emu::test {

using SnippetEmit = std::function<void(Xbyak::CodeGenerator&)>;

/// Machine code of `emit` followed by HLT (guest and host are both x86-64: xbyak assembles it).
inline std::vector<uint8_t> assemble_with_hlt(const SnippetEmit& emit) {
    alignas(16) static uint8_t buffer[4096];
    Xbyak::CodeGenerator g(sizeof(buffer), buffer);
    emit(g);
    g.hlt();
    return {g.getCode(), g.getCode() + g.getSize()};
}

struct RunState {
    uint64_t gpr[16];
    uint64_t rip, rflags, instructions;
    bool faulted;
};

class BtPair {
public:
    /// `protected32`: both machines in 32-bit protected mode with flat segments, paging off.
    /// `count_stats`: the translator counts chained jumps (TranslatorStats::chains_taken).
    explicit BtPair(bool protected32 = false, bool count_stats = false) {
        for (EmuHarness* h : {&interp, &bt}) {
            if (protected32) h->setup_protected32();
            else h->setup_long_mode();
        }
        bt.cpu().shared().count_stats = count_stats;
        bt.use_translator();
    }
    /// Loads `code` into both machines (a VMM write: the DMA epoch makes the engines re-verify).
    void load(const std::vector<uint8_t>& code) {
        for (EmuHarness* h : {&interp, &bt}) {
            h->load_code(code);
            h->cpu().shared().dma_epoch.fetch_add(1);
        }
    }
    RunState run(EmuHarness& h, const uint64_t (&gpr)[16], uint64_t rflags) {
        Cpu& c = h.cpu();
        for (int i = 0; i < 16; ++i) c.gpr[i] = gpr[i];
        c.gpr[hv::RSP] = kStackTop;
        c.rflags = rflags | 2;
        c.rip = kCode;
        h.poke<uint64_t>(kReport + 0x18, 0);
        const uint64_t before = c.stats().instructions;
        auto exit = h.run();
        RunState s{};
        for (int i = 0; i < 16; ++i) s.gpr[i] = c.gpr[i];
        s.rip = c.rip;
        s.rflags = c.rflags;
        s.instructions = c.stats().instructions - before;
        s.faulted = !is_halt(exit) || h.reported();
        return s;
    }
    /// Runs the loaded code on both from the same state; false (with a message) on a difference.
    /// `undefined`: RFLAGS bits the SDM leaves undefined that the host may take from its previous
    /// flags (e.g. IMUL's SF ZF AF PF), which differ between the two engines' host code.
    ::testing::AssertionResult same(const uint64_t (&gpr)[16], uint64_t rflags, uint64_t undefined = 0) {
        RunState a = run(interp, gpr, rflags), b = run(bt, gpr, rflags);
        std::string diff;
        for (int i = 0; i < 16; ++i)
            if (a.gpr[i] != b.gpr[i]) diff += fmt::format(" r{}: interp {:#x} bt {:#x};", i, a.gpr[i], b.gpr[i]);
        if ((a.rflags ^ b.rflags) & ~undefined) diff += fmt::format(" rflags: interp {:#x} bt {:#x};", a.rflags, b.rflags);
        if (a.rip != b.rip) diff += fmt::format(" rip: interp {:#x} bt {:#x};", a.rip, b.rip);
        if (a.instructions != b.instructions)
            diff += fmt::format(" instructions: interp {} bt {};", a.instructions, b.instructions);
        if (a.faulted != b.faulted) diff += fmt::format(" faulted: interp {} bt {};", a.faulted, b.faulted);
        if (diff.empty()) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "from rflags " << std::hex << rflags << ":" << diff;
    }
    const bt::TranslatorStats& stats() { return bt.cpu().translator()->stats(); }

    EmuHarness interp, bt;
};

}  // namespace popek::emu::test
