#pragma once
/// The sections of an own-engine VM's state (docs/snapshot.md "Sections"): the guest clock, each
/// vCPU, each local APIC, the IOAPIC, PIC, PIT, the COM1 UART, CMOS and every virtio-mmio device.
/// Saving reads the parts of a paused VM; loading sets them in a VM built to the snapshot's CONF
/// before any vCPU thread runs, and fails at the first section that is missing or bad.
#include <functional>
#include <vector>

#include "snapshot/snap_codec.h"
#include "snapshot/snapshot_file.h"

namespace popek::emu {
struct EngineShared;
}
namespace popek::devices::legacy {
class Uart8250;
class CmosRtc;
class I8042;
class AcpiPm;
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
    devices::legacy::I8042* i8042 = nullptr;
    devices::legacy::AcpiPm* acpi_pm = nullptr;
    std::vector<devices::virtio::MmioTransport*> virtio;
};

/// A section whose payload `fill` writes.
Section section(uint32_t t, uint32_t instance, const std::function<void(Writer&)>& fill);
/// Reads section (t, instance) with `read`, which must consume it exactly; an error names it.
Result<void> load_section(const Image& image, uint32_t t, uint32_t instance, const std::function<void(Reader&)>& read);

std::vector<Section> save_engine_state(const EngineParts& parts);
Result<void> load_engine_state(const Image& image, const EngineParts& parts);

}  // namespace popek::snapshot
