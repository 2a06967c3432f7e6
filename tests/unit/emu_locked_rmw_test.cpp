// LOCK-prefixed read-modify-writes (SDM Vol. 3A 8.1.2.2 "software controlled bus locking") must be
// atomic between vCPU threads wherever the operand is in guest RAM, including a page that also
// holds decoded code. Such a page has no fast write mapping (every write checks for
// self-modifying code), and its locked RMWs used to run as a plain read and write: two vCPUs
// incrementing a counter next to their code (tests/guests/boot_abi.S counts arriving vCPUs so)
// could lose an increment, and the BSP then waited for the missing vCPU forever.
#include <thread>

#include "emu_harness.h"

namespace popek::emu::test {
namespace {

class EmuLockedRmw : public EmuLongModeTest {};

// loop: lock incl counter(%rip); dec %ecx; jnz loop; hlt; (pad) counter: .long 0
// The counter shares the 4 KiB page with the loop, which stays decoded code.
const std::vector<uint8_t> kCountLoop = {0xf0, 0xff, 0x05, 0x09, 0, 0, 0,   // lock incl 16(code)
                                         0xff, 0xc9,                        // dec %ecx
                                         0x75, 0xf5,                        // jnz loop
                                         0xf4,                              // hlt
                                         0x90, 0x90, 0x90, 0x90,            // counter at +16
                                         0, 0, 0, 0};
constexpr uint64_t kCounter = kCode + 16;

TEST_F(EmuLockedRmw, IncrementsOnACodePageAreAtomicBetweenVcpus) {
    constexpr uint32_t kPerCpu = 50'000;
    h.load_code(kCountLoop);
    r(hv::RCX) = kPerCpu;
    auto second = h.another_cpu(1);
    hv::VcpuExit first_exit, second_exit;
    std::thread other([&] { second_exit = second->execute(); });
    first_exit = h.run();
    other.join();
    ASSERT_TRUE(is_halt(first_exit));
    ASSERT_TRUE(is_halt(second_exit));
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(second->gpr[hv::RCX], 0u);
    EXPECT_EQ(h.read<uint32_t>(kCounter), 2 * kPerCpu) << "a locked increment was lost";
}

TEST_F(EmuLockedRmw, LockedWriteIntoTheRunningBlockIsSeen) {
    // lea patch+1(%rip),%rdi; lock incb (%rdi); patch: mov $1,%eax; hlt — the immediate becomes 2.
    run({0x48, 0x8d, 0x3d, 0x04, 0, 0, 0, 0xf0, 0xfe, 0x07, 0xb8, 0x01, 0, 0, 0, 0xf4});
    EXPECT_EQ(r(hv::RAX), 2u);
}

TEST_F(EmuLockedRmw, XaddOnACodePageIsAtomicToo) {
    // loop: mov $1,%eax; lock xadd %eax,counter(%rip); dec %ecx; jnz loop; hlt; counter
    // (XCHG with memory, locked implicitly, and CMPXCHG take the same Cpu::rmw_ptr path.)
    const std::vector<uint8_t> loop = {0xb8, 0x01, 0, 0, 0,                    // mov $1,%eax
                                       0xf0, 0x0f, 0xc1, 0x05, 0x0b, 0, 0, 0,  // lock xadd %eax,24(code)
                                       0xff, 0xc9, 0x75, 0xef,                 // dec %ecx; jnz loop
                                       0xf4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                       0, 0, 0, 0};
    constexpr uint32_t kPerCpu = 50'000;
    h.load_code(loop);
    r(hv::RCX) = kPerCpu;
    auto second = h.another_cpu(1);
    hv::VcpuExit second_exit;
    std::thread other([&] { second_exit = second->execute(); });
    hv::VcpuExit first_exit = h.run();
    other.join();
    ASSERT_TRUE(is_halt(first_exit) && is_halt(second_exit));
    EXPECT_EQ(h.read<uint32_t>(kCode + 24), 2 * kPerCpu);
}

}  // namespace
}  // namespace popek::emu::test
