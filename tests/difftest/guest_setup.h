#pragma once
/// The engine side's guest: 64-bit CPL0 with an identity map of the first GiB, a GDT with a TSS
/// whose IST1 stack takes every exception, and IDT stubs that report the vector through an OUT
/// to port kVectorPortBase + vector without touching any general register but AL's read.
#include <cstdint>

#include "hv/cpu_state.h"
#include "layout.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::difftest {

inline constexpr uint64_t kGuestRamSize = 0x200'0000;   // 32 MiB: covers code and data
inline constexpr uint16_t kEndPort = 0xe9;               ///< OUT after the sequence: completed
inline constexpr uint16_t kVectorPortBase = 0xc0;        ///< OUT from the stub of vector v: 0xc0 + v
inline constexpr int kIdtVectors = 32;
inline constexpr uint64_t kIstTop = 0x9000;

/// Writes page tables, GDT, TSS, IDT and exception stubs into low guest memory.
Result<void> write_system_structures(const memory::GuestMemory& mem);
/// The tail the engine appends after a case's code: OUT kEndPort, AL; HLT; JMP $.
std::span<const uint8_t> engine_tail();
/// Long-mode CPL0 state with `regs` loaded (SDM Vol. 3A 9.8.5 for the mode, 3.4.5 for segments).
hv::CpuState initial_state(const RegFile& regs);

}  // namespace popek::difftest
