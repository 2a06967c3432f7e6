#pragma once
/// Addresses and result types shared by the native runner and the engine runner. Both sides place
/// the code and the data at the same virtual addresses, so RIP-relative and absolute operands,
/// pushed RSP values and LEA results are identical.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace popek::difftest {

/// The code of one case (the sequence followed by a side-specific tail) lives here.
inline constexpr uint64_t kCodeAddr = 0x0100'0000;
inline constexpr uint64_t kCodeSize = 0x1'0000;
/// Data memory: the buffer that memory operands address, then the stack that push/pop use.
inline constexpr uint64_t kDataAddr = 0x0120'0000;
inline constexpr uint64_t kBufferSize = 0x1000;
inline constexpr uint64_t kStackSize = 0x1000;
inline constexpr uint64_t kDataSize = kBufferSize + kStackSize;
inline constexpr uint64_t kStackAddr = kDataAddr + kBufferSize;
/// Initial RSP sits in the middle of the stack so that pops below it stay in bounds too.
inline constexpr uint64_t kInitialRsp = kStackAddr + kStackSize / 2;
/// The reserved base register points into the middle of the buffer (disp8 reaches both ways).
inline constexpr uint64_t kBaseValue = kDataAddr + kBufferSize / 2;

/// The 16 GPRs in hardware encoding order (same as hv::Gpr), then RIP and RFLAGS.
/// native_enter.S depends on this layout.
struct RegFile {
    std::array<uint64_t, 16> gpr{};
    uint64_t rip = 0;
    uint64_t rflags = 0;
};
static_assert(sizeof(RegFile) == 18 * 8);

/// How one run of a case ended.
enum class EndKind {
    Completed,   ///< reached the tail after the sequence
    Exception,   ///< a CPU exception (vector) stopped the sequence
    HarnessError ///< the runner itself failed (timeout, unexpected VM exit, crashed child)
};

struct Outcome {
    EndKind kind = EndKind::HarnessError;
    int vector = -1;            ///< for Exception
    uint64_t error_code = 0;    ///< for exceptions that push one (SDM Vol. 3A 6.13)
    RegFile regs;               ///< at the tail, or at the faulting instruction
    std::vector<uint8_t> data;  ///< kDataSize bytes of data memory afterwards
    std::string detail;         ///< HarnessError reason
};

/// Vectors that push an error code (SDM Vol. 3A Table 6-1).
constexpr bool vector_has_error_code(int v) {
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

}  // namespace popek::difftest
