/// Exceptions of the own engine: vector, error code bits, CR2 and saved RIP as the SDM defines them
/// (Vol. 3A 4.7 #PF error code, 6.15 exception classes), delivered through 64-bit IDT gates.
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kPage = kPtBase + 0x1000;   // the page the #PF tests play with

class EmuFault : public EmuLongModeTest {
protected:
    /// Runs `code` and expects the report handler to have run.
    void run_to_handler(const Bytes& code) {
        h.load_code(code);
        auto exit = h.run();
        ASSERT_TRUE(is_halt(exit)) << "exit index " << exit.index();
        ASSERT_TRUE(h.reported()) << "no exception was delivered";
    }
};

const Bytes kReadPage = {0x48, 0x8b, 0x04, 0x25, 0x00, 0x10, 0x20, 0x00, 0xf4};                     // mov 0x201000,%rax
const Bytes kWritePage = {0x48, 0xc7, 0x04, 0x25, 0x00, 0x10, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4};  // movq $1,0x201000

TEST_F(EmuFault, DivideByZero) {
    run_to_handler({0x31, 0xc9, 0xf7, 0xf1, 0xf4});   // xor %ecx,%ecx; div %ecx
    EXPECT_EQ(h.reported_rip(), kCode + 2);            // faults point at the DIV
}

TEST_F(EmuFault, PageNotPresentRead) {
    h.set_pte(kPage, 0);
    run_to_handler(kReadPage);
    EXPECT_EQ(h.reported_error(), 0u);
    EXPECT_EQ(h.reported_cr2(), kPage);
    EXPECT_EQ(h.reported_rip(), kCode);
}

TEST_F(EmuFault, PageNotPresentWrite) {
    h.set_pte(kPage, 0);
    run_to_handler(kWritePage);
    EXPECT_EQ(h.reported_error(), 2u);   // W
}

TEST_F(EmuFault, WriteProtectedPageWithCr0Wp) {
    h.set_pte(kPage, kPage | 1);   // present, read-only, supervisor
    run_to_handler(kWritePage);
    EXPECT_EQ(h.reported_error(), 3u);   // P | W
    EXPECT_EQ(h.reported_cr2(), kPage);
}

TEST_F(EmuFault, ReservedBitSet) {
    h.set_pte(kPage, kPage | (1ULL << 45) | 3);   // above the 40-bit physical address width
    run_to_handler(kReadPage);
    EXPECT_EQ(h.reported_error(), 9u);   // P | RSVD
}

TEST_F(EmuFault, FetchFromNoExecutePage) {
    h.set_pte(kPage, kPage | (1ULL << 63) | 3);
    h.write(kPage, {0xf4});
    run_to_handler({0x48, 0xc7, 0xc0, 0x00, 0x10, 0x20, 0x00, 0xff, 0xe0});   // mov $0x201000,%rax; jmp *%rax
    EXPECT_EQ(h.reported_error(), 0x11u);   // P | I/D
    EXPECT_EQ(h.reported_cr2(), kPage);
    EXPECT_EQ(h.reported_rip(), kPage);
}

TEST_F(EmuFault, UserReadOfSupervisorPageAfterIretToRing3) {
    h.set_pte(kPage, kPage | 3);   // supervisor page
    // pushq $0x23; pushq $0x70000; pushq $2; pushq $0x2b; lea u(%rip),%rax; push %rax; iretq;
    // u: mov 0x201000,%rax; hlt
    run_to_handler({0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x48, 0x8d, 0x05, 0x03,
                    0x00, 0x00, 0x00, 0x50, 0x48, 0xcf, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x10, 0x20, 0x00, 0xf4});
    EXPECT_EQ(h.reported_error(), 5u);   // P | U
    EXPECT_EQ(h.reported_rip(), kCode + 21);
    EXPECT_EQ(h.cpu().cpl, 0);
    // The handler ran on the TSS RSP0 stack: the frame holds SS=0x23 and RSP=0x70000.
    uint64_t frame = kStackTop - 0x1000 - 5 * 8;
    EXPECT_EQ(h.read<uint64_t>(frame + 8), kUserCode64);
    EXPECT_EQ(h.read<uint64_t>(frame + 24), 0x70000u);
    EXPECT_EQ(h.read<uint64_t>(frame + 32), kUserData);
}

TEST_F(EmuFault, UnimplementedInstructionIsUd) {
    run_to_handler({0x90, 0x0f, 0x58, 0xc8, 0xf4});   // nop; addps %xmm0,%xmm1 (no SSE yet)
    EXPECT_EQ(h.reported_rip(), kCode + 1);
}

TEST_F(EmuFault, PrivilegedInstructionAtRing3IsGp) {
    // iretq to ring 3, then hlt there: #GP(0)
    run_to_handler({0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x48, 0x8d, 0x05, 0x03,
                    0x00, 0x00, 0x00, 0x50, 0x48, 0xcf, 0xf4});
    EXPECT_EQ(h.reported_error(), 0u);
    EXPECT_EQ(h.reported_rip(), kCode + 21);
}

TEST_F(EmuFault, Int3TrapSavesNextRip) {
    run_to_handler({0x90, 0xcc, 0xf4});
    EXPECT_EQ(h.reported_rip(), kCode + 2);
}

TEST_F(EmuFault, FaultWhileDeliveringEscalatesToTripleFault) {
    // lidt 0x7100 (limit 0); int3 -> #GP (outside IDT) -> #DF -> triple fault
    h.load_code({0x0f, 0x01, 0x1c, 0x25, 0x00, 0x71, 0x00, 0x00, 0xcc, 0xf4});
    auto exit = h.run();
    auto* sd = std::get_if<hv::Shutdown>(&exit);
    ASSERT_NE(sd, nullptr);
    EXPECT_EQ(sd->reason, hv::Shutdown::TripleFault);
}

}  // namespace
}  // namespace popek::emu::test
