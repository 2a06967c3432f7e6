#pragma once
/// Interrupt and exception dispatch (called from arch/entry.S).
#include <stdint.h>

#include "arch/trap_frame.h"

namespace pos {

using InterruptHandler = void (*)();
/// Runs `handler` for `vector` (then sends the LAPIC EOI).
void set_interrupt_handler(uint8_t vector, InterruptHandler handler);

}  // namespace pos

extern "C" void trap_dispatch(pos::TrapFrame* frame);
