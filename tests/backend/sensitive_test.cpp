// Backend test: the sensitive-but-unprivileged instructions in ring 0 and ring 3
// (tests/guests/sensitive.S). Expected values worked out by hand from the guest's GDT/LDT
// (tests/guests/cpu.inc) and the SDM's LAR/LSL/VERR/VERW/SLDT/STR/SMSW/POPF pages.
#include <gmock/gmock.h>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

constexpr const char* kFail = "lar=0x5555555555555555 zf=0 lsl=0x5555555555555555 zf=0 verr=0 verw=0";

/// selector -> expected "lar=.. zf=. lsl=.. zf=. verr=. verw=." in ring 0 and ring 3
struct SelectorRow {
    const char* selector;
    const char* ring0;
    const char* ring3;
};

const SelectorRow kSelectors[] = {
    {"0x0000", kFail, kFail},  // null
    {"0x0008", "lar=0x0000000000a09b00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0", kFail},
    {"0x000b", kFail, kFail},  // RPL 3 > DPL 0 of a non-conforming segment
    {"0x0010", "lar=0x0000000000c09300 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=1", kFail},
    {"0x001b", "lar=0x0000000000c0f300 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=1",
     "lar=0x0000000000c0f300 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=1"},
    {"0x0023", "lar=0x0000000000a0fb00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0",
     "lar=0x0000000000a0fb00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0"},
    // busy 64-bit TSS (LTR set the busy bit), limit 232
    {"0x0028", "lar=0x0000000000008b00 zf=1 lsl=0x00000000000000e8 zf=1 verr=0 verw=0", kFail},
    {"0x0038", "lar=0x0000000000008200 zf=1 lsl=0x000000000000000f zf=1 verr=0 verw=0", kFail},
    // conforming code: no privilege check for LAR/LSL/VERR
    {"0x0048", "lar=0x0000000000a09f00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0",
     "lar=0x0000000000a09f00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0"},
    {"0x0053", "lar=0x0000000000c0fb00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0",
     "lar=0x0000000000c0fb00 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=0"},
    {"0x0004", "lar=0x0000000000c0f300 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=1",
     "lar=0x0000000000c0f300 zf=1 lsl=0x00000000ffffffff zf=1 verr=1 verw=1"},
    {"0x0017", kFail, kFail},  // past the LDT limit
    {"0x1000", kFail, kFail},  // past the GDT limit
};

class SensitiveTest : public EngineTest {};

TEST_P(SensitiveTest, SameResultsAsTheSdmInBothRings) {
    if (engine() == "kvm" && kvm_is_pvm()) {
        // Record what PVM does (the Popek-Goldberg evidence), then skip: ring-3 MOV from CS/SS
        // returns the host's selectors and ring-3 LAR/LSL/VERR/VERW read the host's GDT; ring-0
        // LAR/LSL/VERR/VERW stop the VM (KVM's emulator lacks them).
        auto r = run_popek({"run", "--accel", "kvm", "--kernel", guest_elf("sensitive")});
        if (!engine_unusable(r)) std::cout << "sensitive guest on PVM (status " << r.status << "):\n" << r.out << r.err;
        GTEST_SKIP() << "this host's /dev/kvm is PVM: ring-3 sensitive instructions see the host's "
                        "selectors and GDT, ring-0 LAR/LSL/VERR/VERW are not emulated (output above)";
    }
    RUN_GUEST(r, "sensitive");
    EXPECT_EQ(r.status, 1) << r.err << r.out;
    EXPECT_THAT(r.out, HasSubstr("failures: 0\n"));
    EXPECT_THAT(r.out, HasSubstr("ring3 wrote this line to COM1 through the TSS I/O permission bitmap\n"));
    for (const char* ring : {"ring0", "ring3"}) {
        std::string p = ring;
        bool r3 = p == "ring3";
        // without CR4.UMIP ring 3 reads the descriptor-table registers, LDTR, TR and CR0 unhindered
        EXPECT_THAT(r.out, HasSubstr(p + " sgdt limit=0x0057 base=0x"));
        EXPECT_THAT(r.out, HasSubstr(p + " sidt limit=0x0fff base=0x"));
        EXPECT_THAT(r.out, HasSubstr(p + " sldt m16=0x0038 reg=0x0000000000000038\n"));
        EXPECT_THAT(r.out, HasSubstr(p + " str m16=0x0028 reg=0x0000000000000028\n"));
        EXPECT_THAT(r.out, HasSubstr(p + " smsw m16=0x0033 reg=0x0000000080010033\n"));
        // ring 3: DS/ES were nulled by the IRETQ to an outer level
        EXPECT_THAT(r.out, HasSubstr(p + (r3 ? " mov-sreg cs=0x0000000000000023 ds=0x0000000000000000 es=0x0000000000000000\n"
                                             : " mov-sreg cs=0x0000000000000008 ds=0x0000000000000010 es=0x0000000000000010\n")));
        // ring 0 runs after ring 3 came back through an exception (cpu.inc call_user): a 64-bit
        // mode interrupt that changes CPL loads SS with a NULL selector whose RPL is the new CPL
        // (SDM Vol. 3A 6.14.2), and the guest never reloads SS, so ring 0 reads SS = 0.
        EXPECT_THAT(r.out, HasSubstr(p + (r3 ? " mov-sreg fs=0x0000000000000000 gs=0x0000000000000000 ss=0x000000000000001b\n"
                                             : " mov-sreg fs=0x0000000000000000 gs=0x0000000000000000 ss=0x0000000000000000\n")));
        // POPF at CPL3 with IOPL 0 silently keeps IF and IOPL; at CPL0 it changes both
        EXPECT_THAT(r.out, HasSubstr(p + (r3 ? " pushf=0x0000000000000246 after-popf-flip-if=0x0000000000000246 "
                                               "after-popf-iopl3=0x0000000000000246\n"
                                             : " pushf=0x0000000000000046 after-popf-flip-if=0x0000000000000246 "
                                               "after-popf-iopl3=0x0000000000003046\n")));
        for (const auto& s : kSelectors)
            EXPECT_THAT(r.out, HasSubstr(p + " sel=" + s.selector + " " + (r3 ? s.ring3 : s.ring0) + "\n"));
    }
}

INSTANTIATE_FOR_ENGINES(SensitiveTest);

}  // namespace
}  // namespace popek::test
