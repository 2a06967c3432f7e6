#pragma once
/// The engine side's guest: 64-bit CPL0 on popek's boot GDT and identity map (src/arch/x86_64),
/// the boot TSS's IST1 stack taking every exception, and IDT stubs that report the vector with
/// an OUT to port kVectorPortBase + vector, which reads AL and writes no register.
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
inline constexpr uint64_t kIstTop = 0xD000;

/// Writes page tables, GDT, TSS, IDT and exception stubs into low guest memory; returns CR3.
Result<uint64_t> write_system_structures(const memory::GuestMemory& mem);
/// The tail the engine appends after a case's code: OUT kEndPort, AL; HLT; JMP $.
std::span<const uint8_t> engine_tail();
/// Long-mode CPL0 state with `regs` loaded (SDM Vol. 3A 9.8.5 for the mode, 3.4.5 for segments).
hv::CpuState initial_state(const RegFile& regs, uint64_t cr3);

}  // namespace popek::difftest
