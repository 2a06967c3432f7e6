/// NMI blocking (SDM Vol. 3A 6.7.1): after an NMI is delivered, further NMIs are held until the
/// next IRET, then the held one is taken (kvm-unit-tests eventinj "NMI"). Interp and bt alike.
#include "bt_pair.h"
#include "emu_quiet_interrupts.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

/// An interrupt platform with only an NMI latch (the local APIC holds one pending NMI).
struct NmiOnly : QuietInterrupts {
    bool nmi = false;
    bool take_nmi() override { return std::exchange(nmi, false); }
};

constexpr uint64_t kCount = 0x6000, kSeenInside = 0x6008;
constexpr uint16_t kNmiPort = 0x80;   ///< the test's "send me an NMI" port

class EmuNmi : public ::testing::TestWithParam<bool> {
protected:
    EmuNmi() : h(&ints) {}
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
    }
    NmiOnly ints;
    EmuHarness h;
};

TEST_P(EmuNmi, ASecondNmiWaitsForIret) {
    alignas(16) static uint8_t buffer[4096];
    G g(sizeof(buffer), buffer);
    Xbyak::Label handler, second;
    // main: ask for an NMI, then halt.
    g.out_(kNmiPort, al);
    g.nop();
    g.hlt();
    // NMI handler: count; the first one asks for another NMI, which must not nest.
    g.L(handler);
    g.mov(rbx, kCount);
    g.inc(qword[rbx]);
    g.cmp(qword[rbx], 1);
    g.jne(second);
    g.out_(kNmiPort, al);
    for (int k = 0; k < 8; ++k) g.nop();
    g.mov(rax, qword[rbx]);
    g.mov(qword[rbx + (kSeenInside - kCount)], rax);
    g.L(second);
    g.db(0x48); g.db(0xcf);   // iretq
    h.load_code({g.getCode(), g.getCode() + g.getSize()});
    h.set_gate(kNmi, kCode + static_cast<uint64_t>(handler.getAddress() - g.getCode()));

    int exits = 0;
    for (;;) {
        auto e = h.run();
        if (auto* out = std::get_if<hv::PioOut>(&e)) {
            ASSERT_EQ(out->port, kNmiPort);
            ints.nmi = true;   // as the local APIC does on an NMI IPI: pending, attention raised
            h.cpu().attention = true;
            h.cpu().complete_io();
            ASSERT_LT(++exits, 10);
            continue;
        }
        ASSERT_TRUE(is_halt(e)) << "exit index " << e.index();
        break;
    }
    EXPECT_FALSE(h.reported());
    EXPECT_EQ(h.read<uint64_t>(kSeenInside), 1u) << "the second NMI nested in the first one's handler";
    EXPECT_EQ(h.read<uint64_t>(kCount), 2u) << "the held NMI was not taken after IRET";
    EXPECT_FALSE(h.cpu().nmi_blocked);
}

/// An NMI that arrives while STI executes (what an IPI from another vCPU at just that moment
/// does: pending, attention raised). STI asks whether an interrupt is pending; that is the moment.
struct NmiDuringSti : NmiOnly {
    Cpu* cpu = nullptr;
    bool sent = false;
    bool interrupt_pending() override {
        if (!sent && cpu) {
            sent = nmi = true;
            cpu->attention = true;
        }
        return false;
    }
};

TEST_P(EmuNmi, AnNmiWaitsOutTheStiShadow) {
    // kvm-unit-tests apic "nmi-after-sti": an NMI is not taken between STI and the next
    // instruction. STI is the last byte of a page, so its block ends right after it and the
    // NMI's attention is seen at that boundary: inside the shadow.
    NmiDuringSti late;
    EmuHarness g(&late);
    g.setup_long_mode();
    g.use_translator(GetParam());
    late.cpu = &g.cpu();
    constexpr uint64_t kSti = kCode + 0xfff, kNext = kCode + 0x1000, kHandler = kCode + 0x2000;
    g.write(kCode, {0xe9, 0xfa, 0x0f, 0x00, 0x00});   // jmp kSti
    g.write(kSti, {0xfb});                            // sti
    g.write(kNext, {0x90, 0xfa, 0xf4});               // nop (in STI's shadow); cli; hlt
    alignas(16) static uint8_t buffer[4096];
    G c(sizeof(buffer), buffer);
    c.mov(rax, qword[rsp]);   // the return RIP
    c.mov(rbx, kCount);
    c.mov(qword[rbx], rax);
    c.db(0x48); c.db(0xcf);   // iretq
    g.write(kHandler, {c.getCode(), c.getCode() + c.getSize()});
    g.set_gate(kNmi, kHandler);
    g.cpu().rflags &= ~uint64_t{kIf};
    g.cpu().rip = kCode;
    auto e = g.run();
    ASSERT_TRUE(is_halt(e)) << "exit index " << e.index();
    EXPECT_FALSE(g.reported());
    ASSERT_TRUE(late.sent);
    EXPECT_EQ(g.read<uint64_t>(kCount), kNext + 1) << "taken in STI's shadow";
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuNmi, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
