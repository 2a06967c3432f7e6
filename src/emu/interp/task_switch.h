#pragma once
/// Hardware task switching outside long mode (SDM Vol. 3A 7.3 "Task Switching"): JMP/CALL to a
/// TSS descriptor or a task gate, an interrupt or exception through a task gate in the IDT, and
/// IRET with EFLAGS.NT = 1 (return to the linked task). 32-bit TSSs only (SDM 7.2.1 figure 7-2);
/// a 16-bit TSS stops the VM with a clear reason.
#include <cstdint>

#include "emu/cpu.h"

namespace popek::emu {

/// What started a task switch: it decides the busy flags, NT and the link (SDM Vol. 3A 7.3 table 7-2).
enum class TaskEntry : uint8_t { Jmp, Call, Iret, Event };

/// JMP/CALL far to a system descriptor outside long mode: a TSS (types 1, 9) or a task gate
/// (type 5), with the checks of SDM Vol. 2A JMP/CALL "TASK-GATE" and "TASK-STATE-SEGMENT".
/// `d` is the descriptor `sel` selects. Other system types (call gates) are #GP(sel).
void far_to_task(Cpu& c, uint16_t sel, uint64_t d, bool call);

/// An event through the task gate `gate` (SDM Vol. 2A INT "TASK-GATE", 3A 6.12.2): switches to
/// its task and pushes the error code there. `ext` is the EXT bit of error codes it raises.
void event_to_task(Cpu& c, const Event& e, uint64_t gate, uint32_t ext);

/// IRET with NT = 1 outside long mode: back to the task linked from the current TSS (SDM Vol. 2A
/// IRET "TASK-RETURN").
void iret_to_task(Cpu& c);

}  // namespace popek::emu
