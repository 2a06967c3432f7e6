#pragma once
/// The sections of an own-engine VM's state (docs/snapshot.md "Sections"): the guest clock, each
/// vCPU, each local APIC, the IOAPIC, PIC, PIT, the COM1 UART, CMOS and every virtio-mmio device.
/// Saving reads the parts of a paused VM; loading sets them in a VM built to the snapshot's CONF
/// before any vCPU thread runs, and fails at the first section that is missing or bad.
#include <vector>

#include "snapshot/snapshot_file.h"

namespace popek::emu {
struct EngineShared;
}
namespace popek::devices::legacy {
class Uart8250;
class CmosRtc;
}
namespace popek::devices::virtio {
class MmioTransport;
}

namespace popek::snapshot {

/// The parts of a VM a snapshot covers (borrowed).
struct EngineParts {
    emu::EngineShared* engine = nullptr;   ///< its platform and every Cpu registered
    devices::legacy::Uart8250* uart = nullptr;
    devices::legacy::CmosRtc* cmos = nullptr;
    std::vector<devices::virtio::MmioTransport*> virtio;
};

std::vector<Section> save_engine_state(const EngineParts& parts);
Result<void> load_engine_state(const Image& image, const EngineParts& parts);

}  // namespace popek::snapshot
