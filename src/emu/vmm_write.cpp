#include "emu/vmm_write.h"

#include "emu/cpu.h"

namespace popek::emu {

void note_vmm_write(EngineShared& shared) {
    shared.dma_epoch.fetch_add(1, std::memory_order_acq_rel);
    for (Cpu* c : shared.cpus)
        if (c) c->attention.store(true, std::memory_order_release);
}

}  // namespace popek::emu
