/// STI's interrupt shadow (SDM Vol. 3A 6.8.3, "STI"): an interrupt pending when STI sets IF is
/// taken after exactly one more instruction; STI with nothing pending does not end its block, so a
/// loop with `cli; ...; sti` stays in translated code. Interp and bt alike.
#include <atomic>
#include <chrono>
#include <thread>

#include "bt_pair.h"
#include "emu_quiet_interrupts.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

constexpr uint64_t kReturnRip = 0x6000, kHandler = kCode + 0x800;
constexpr uint8_t kVector = 0x40;

/// One maskable interrupt (vector kVector), pending until acknowledged.
struct OneInterrupt : QuietInterrupts {
    std::atomic<bool> pending{false};
    bool interrupt_pending() override { return pending; }
    std::optional<uint8_t> acknowledge_interrupt() override {
        if (!pending.exchange(false)) return std::nullopt;
        return kVector;
    }
};

class EmuStiShadow : public ::testing::TestWithParam<bool> {
protected:
    EmuStiShadow() : h(&ints) {}
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
        // The handler: the interrupted RIP to kReturnRip, then IRET.
        h.write(kHandler, assemble_with_hlt([](G& g) {
            g.mov(rax, qword[rsp]);
            g.mov(rdx, kReturnRip);
            g.mov(qword[rdx], rax);
            g.db(0x48);
            g.db(0xcf);   // iretq
        }));
        h.set_gate(kVector, kHandler);
    }
    OneInterrupt ints;
    EmuHarness h;
};

TEST_P(EmuStiShadow, AnInterruptPendingAtStiIsTakenAfterTheNextInstruction) {
    h.load_code(assemble_with_hlt([](G& g) {
        g.sti();        // kCode
        g.inc(r8d);     // kCode + 1 (3 bytes): in the shadow
        g.inc(r9d);     // kCode + 4: the interrupt comes before it
        g.inc(r10d);
        g.cli();
    }));
    h.cpu().rflags &= ~uint64_t{kIf};
    ints.pending = true;
    for (int run = 0; run < 2; ++run) {   // on bt the second run is translated code
        h.poke<uint64_t>(kReturnRip, 0);
        h.cpu().rip = kCode;
        ints.pending = true;
        ASSERT_TRUE(is_halt(h.run()));
        EXPECT_FALSE(h.reported());
        EXPECT_EQ(h.read<uint64_t>(kReturnRip), kCode + 4) << "run " << run;
        EXPECT_FALSE(ints.pending);
    }
    EXPECT_EQ(h.cpu().gpr[hv::R8], 2u);   // (the handler uses RAX and RDX)
    EXPECT_EQ(h.cpu().gpr[hv::R9], 2u);
    EXPECT_EQ(h.cpu().gpr[hv::R10], 2u);
}

TEST_P(EmuStiShadow, StiWithNothingPendingKeepsALoopInItsBlock) {
    h.load_code(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.mov(ecx, 1000);
        g.L(top);
        g.cli();
        g.inc(eax);
        g.sti();
        g.inc(ebx);   // in STI's shadow
        g.dec(ecx);
        g.jnz(top);
        g.cli();
    }));
    h.cpu().rflags &= ~uint64_t{kIf};
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_FALSE(h.reported());
    EXPECT_EQ(h.cpu().gpr[hv::RAX], 1000u);
    EXPECT_EQ(h.cpu().gpr[hv::RBX], 1000u);
    EXPECT_EQ(h.cpu().stats().instructions, 1u + 6 * 1000 + 2);
    if (GetParam()) {
        // Each STI ended its run before: 1000 dispatcher runs and 1000 interpreted instructions.
        EXPECT_LT(h.cpu().translator()->stats().runs, 10u);
        EXPECT_LT(h.cpu().interpreted(), 10u);
    }
}

TEST_P(EmuStiShadow, AnInterruptArrivingAfterTheShadowIsTakenAtABlockBoundary) {
    // Nothing pending at STI: the loop runs on; the interrupt raised later (as a device or
    // another vCPU does: pending, attention) is taken, and the loop then ends.
    h.load_code(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.sti();
        g.L(top);
        g.inc(eax);
        g.mov(rdx, kReturnRip);
        g.cmp(qword[rdx], 0);
        g.je(top);
        g.cli();
    }));
    h.cpu().rflags &= ~uint64_t{kIf};
    h.cpu().budget = 0;
    std::thread raise([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ints.pending = true;
        h.cpu().attention = true;
    });
    ASSERT_TRUE(is_halt(h.run()));
    raise.join();
    EXPECT_FALSE(h.reported());
    EXPECT_NE(h.read<uint64_t>(kReturnRip), 0u);
    EXPECT_FALSE(ints.pending);
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuStiShadow, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
