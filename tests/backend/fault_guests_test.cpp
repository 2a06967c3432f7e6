// Backend tests: one guest per exception class (issue 4, 5c). Each case's vector, error code,
// CR2 and saved RIP were worked out by hand from the SDM (Vol. 3A ch. 6 and 4.7); the guest checks
// them too, and exits with its failure count.
#include <fmt/format.h>
#include <gmock/gmock.h>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

constexpr int kRing0 = 0x08, kRing3 = 0x23;  // the CS each case runs on (tests/guests/cpu.inc)

struct Case {
    const char* name;
    int vector, error;
    uint64_t cr2;
    uint64_t rip;        ///< offset from the instruction, or the absolute RIP when rip_absolute
    int cs;
    bool rip_absolute = false;
};

std::string row(const Case& c) {
    std::string rip = c.rip_absolute ? fmt::format("rip=0x{:016x}", c.rip) : fmt::format("rip=site+0x{:04x}", c.rip);
    return fmt::format("{:<40} vec=0x{:02x} err=0x{:04x} cr2=0x{:016x} {} cs=0x{:02x} PASS\n", c.name, c.vector,
                       c.error, c.cr2, rip, c.cs);
}

struct FaultGuest {
    const char* guest;
    std::vector<Case> cases;
    const char* pvm_limit = nullptr;  ///< why PVM's KVM cannot run it, when it cannot
};

const std::vector<FaultGuest>& fault_guests() {
    static const std::vector<FaultGuest> guests = {
        {"fault_de",
         {{"#DE div by zero", 0, 0, 0, 0, kRing0},
          {"#DE idiv INT_MIN / -1", 0, 0, 0, 0, kRing0},
          {"#DE 8-bit quotient overflow", 0, 0, 0, 0, kRing0},
          {"#DE 64-bit quotient overflow", 0, 0, 0, 0, kRing0},
          {"#DE ring3 div by zero", 0, 0, 0, 0, kRing3}}},
        {"fault_ud",
         {{"#UD ud2", 6, 0, 0, 0, kRing0},
          {"#UD lock nop", 6, 0, 0, 0, kRing0},
          {"#UD lock add reg,reg", 6, 0, 0, 0, kRing0},
          {"#UD push es in 64-bit mode", 6, 0, 0, 0, kRing0},
          {"#UD ring3 ud2", 6, 0, 0, 0, kRing3},
          {"#UD ring3 lock nop", 6, 0, 0, 0, kRing3}}},
        {"fault_gp",
         {{"#GP ds <- past the GDT limit", 13, 0x1000, 0, 0, kRing0},
          {"#GP ds <- TSS selector", 13, 0x28, 0, 0, kRing0},
          {"#GP ss <- code selector", 13, 0x08, 0, 0, kRing0},
          {"#GP ss <- RPL 3 at CPL 0", 13, 0x10, 0, 0, kRing0},
          {"#GP non-canonical load", 13, 0, 0, 0, kRing0},
          {"#GP non-canonical store", 13, 0, 0, 0, kRing0},
          {"#SS non-canonical via rbp", 12, 0, 0, 0, kRing0},
          {"#GP ring3 cli", 13, 0, 0, 0, kRing3},
          {"#GP ring3 hlt", 13, 0, 0, 0, kRing3},
          {"#GP ring3 mov from cr0", 13, 0, 0, 0, kRing3},
          {"#GP ring3 lgdt", 13, 0, 0, 0, kRing3},
          {"#GP ring3 wrmsr", 13, 0, 0, 0, kRing3},
          {"#GP ring3 out 0x80 (not in bitmap)", 13, 0, 0, 0, kRing3},
          {"#GP ring3 in 0x400 (past bitmap)", 13, 0, 0, 0, kRing3},
          {"#GP ring3 ds <- past the GDT limit", 13, 0x1000, 0, 0, kRing3},
          {"#GP ring3 ds <- DPL 0 data", 13, 0x10, 0, 0, kRing3}}},
        {"fault_pk",
         {{"#PF PKRU.AD ring0 read", 14, 0x21, 0x203010, 0, kRing0},
          {"#PF PKRU.AD ring3 read", 14, 0x25, 0x203010, 0, kRing3},
          {"#PF PKRU.WD ring0 write (CR0.WP)", 14, 0x23, 0x203010, 0, kRing0},
          {"#PF PKRU.WD ring3 write", 14, 0x27, 0x203010, 0, kRing3},
          {"#GP rdpkru with ecx != 0", 13, 0, 0, 0, kRing0}}},
        {"fault_pf",
         {{"#PF read not present", 14, 0x0, 0x200000, 0, kRing0},
          {"#PF write not present", 14, 0x2, 0x200000, 0, kRing0},
          {"#PF read split into not present", 14, 0x0, 0x200000, 0, kRing0},
          {"#PF write read-only (CR0.WP)", 14, 0x3, 0x201008, 0, kRing0},
          {"#PF reserved bit in PDE", 14, 0x9, 0x400010, 0, kRing0},
          {"#PF fetch from NX page", 14, 0x11, 0x203000, 0x203000, kRing0, true},
          {"#PF ring3 read supervisor page", 14, 0x5, 0x202000, 0, kRing3},
          {"#PF ring3 write supervisor RO page", 14, 0x7, 0x201000, 0, kRing3},
          {"#PF ring3 write user RO page", 14, 0x7, 0x204020, 0, kRing3},
          {"#PF ring3 read not present", 14, 0x4, 0x200030, 0, kRing3},
          {"#PF ring3 write not present", 14, 0x6, 0x200030, 0, kRing3},
          {"#PF ring3 reserved bit in PDE", 14, 0xd, 0x400000, 0, kRing3},
          {"#PF ring3 fetch from NX page", 14, 0x15, 0x203000, 0x203000, kRing3, true}}},
        {"fault_bp",
         {{"#BP int3", 3, 0, 0, 1, kRing0},
          {"#BP int 3 (two-byte form)", 3, 0, 0, 2, kRing0},
          {"#DB int1 (icebp)", 1, 0, 0, 1, kRing0},
          {"#BP ring3 int3", 3, 0, 0, 1, kRing3},
          {"#BP ring3 int 3 (two-byte form)", 3, 0, 0, 2, kRing3}},
         "INT3/INT n at CPL0 stop the VM (KVM's emulator cannot execute them: internal error, suberror 1)"},
        {"fault_int",
         {{"INT 0x41 (DPL3 gate) ring0", 0x41, 0, 0, 2, kRing0},
          {"INT 0x40 (DPL0 gate) ring0", 0x40, 0, 0, 2, kRing0},
          {"INT 0x42 (not present) -> #NP", 11, 0x42 * 8 + 2, 0, 0, kRing0},
          {"INTO in 64-bit mode -> #UD", 6, 0, 0, 0, kRing0},
          {"INT 0x41 (DPL3 gate) ring3", 0x41, 0, 0, 2, kRing3},
          {"INT 0x40 (DPL0 gate) ring3 -> #GP", 13, 0x40 * 8 + 2, 0, 0, kRing3},
          {"INT 0x42 (DPL0, not present) ring3", 13, 0x42 * 8 + 2, 0, 0, kRing3},
          {"INT 0x0d (#GP vector, DPL0) ring3", 13, 13 * 8 + 2, 0, 0, kRing3}},
         "INT n at CPL0 stops the VM (KVM's emulator), and INT n (n != 3) at CPL3 raises #UD"},
        {"fault_iret", {{"IRETQ to ring3, UD2 back", 6, 0, 0, 1, kRing3}}},
        {"fault_iret_gp",
         {{"IRETQ to a data segment as CS", 13, 0x10, 0, 0, kRing0},
          {"IRETQ to ring3 with SS RPL 0", 13, 0x10, 0, 0, kRing0},
          {"IRETQ to a non-canonical RIP", 13, 0, 0, 0, kRing0}},
         "a CPL0 IRETQ with a bad CS is not checked: it returns and the guest runs off into low memory"},
    };
    return guests;
}

class FaultGuestTest : public EngineTest {
protected:
    void check_guest(const FaultGuest& g, int extra_passes) {
        if (g.pvm_limit) skip_on_pvm(g.guest, g.pvm_limit);
        if (IsSkipped()) return;
        RUN_GUEST(r, g.guest);
        for (const Case& c : g.cases) EXPECT_THAT(r.out, HasSubstr(row(c))) << g.guest << " on " << engine();
        EXPECT_EQ(count_lines(r.out, " PASS"), g.cases.size() + static_cast<size_t>(extra_passes)) << r.out;
        EXPECT_EQ(count_lines(r.out, "FAIL"), 0u) << r.out;
        EXPECT_THAT(r.out, HasSubstr("failures: 0\n"));
        EXPECT_EQ(r.status, 1) << g.guest << ": " << r.err << r.out;
    }
    const FaultGuest& guest(std::string_view name) {
        for (const auto& g : fault_guests())
            if (name == g.guest) return g;
        throw std::logic_error("unknown fault guest");
    }
};

TEST_P(FaultGuestTest, DivideError) { check_guest(guest("fault_de"), 0); }
TEST_P(FaultGuestTest, InvalidOpcode) { check_guest(guest("fault_ud"), 0); }
TEST_P(FaultGuestTest, GeneralProtectionAndStackFault) { check_guest(guest("fault_gp"), 0); }
TEST_P(FaultGuestTest, PageFaultEveryErrorCodeBitAndAccessedDirty) {
    check_guest(guest("fault_pf"), 3);  // + read-back, A|D after write, A after read
}
TEST_P(FaultGuestTest, ProtectionKeys) {
    check_guest(guest("fault_pk"), 2);  // + RDPKRU, a write with PKRU = 0
}
TEST_P(FaultGuestTest, Breakpoint) { check_guest(guest("fault_bp"), 0); }
TEST_P(FaultGuestTest, SoftwareInterruptGateChecks) { check_guest(guest("fault_int"), 0); }
TEST_P(FaultGuestTest, IretToRing3AndBack) {
    check_guest(guest("fault_iret"), 8);
    if (IsSkipped()) return;
    RUN_GUEST(r, "fault_iret");
    EXPECT_THAT(r.out, HasSubstr("frame rflags (RF IF, IOPL 0) got=0x00010202 want=0x00010202 PASS\n"));
    EXPECT_THAT(r.out, HasSubstr("INT3 served, IRETQ to ring3  got=0x02 want=0x02 PASS\n"));
    EXPECT_THAT(r.out, HasSubstr("r12 across INT3/IRETQ        got=0x0123456789abcdef"));
}
TEST_P(FaultGuestTest, IretThatMustFault) { check_guest(guest("fault_iret_gp"), 0); }

INSTANTIATE_FOR_ENGINES(FaultGuestTest);

}  // namespace
}  // namespace popek::test
