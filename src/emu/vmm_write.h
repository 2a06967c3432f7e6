#pragma once
/// The VMM (a device's DMA, the debugger) may have written guest RAM behind the engine's back.
#include "emu/engine_shared.h"

namespace popek::emu {

/// Moves the DMA epoch, so decoded blocks are re-verified against their bytes before their next
/// use, and raises every vCPU's attention, so translated code stops chaining (bt::ChainSlot) and
/// its dispatcher unlinks the chains made before (Cpu::execute).
void note_vmm_write(EngineShared& shared);

}  // namespace popek::emu
