#pragma once
/// The register frame every interrupt, exception and system call builds on the kernel stack
/// (arch/entry.S). The last five fields are the hardware interrupt frame of 64-bit mode
/// (SDM Vol. 3A 6.14.1, figure 6-9); system calls build the same shape by hand.
#include <stdint.h>

namespace pos {

struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;   ///< kSyscallVector for system calls
    uint64_t error;
    uint64_t rip, cs, rflags, rsp, ss;

    bool from_user() const { return (cs & 3) == 3; }
};
static_assert(sizeof(TrapFrame) == 22 * 8);

inline constexpr uint64_t kSyscallVector = 0x100;

}  // namespace pos
