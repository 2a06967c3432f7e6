#pragma once
/// AML (ACPI 6.5, section 20) for virtio-mmio devices, for the DSDT:
///   Device (VRTn) {
///     Name (_HID, "LNRO0005")          // the id Linux's virtio_mmio driver matches
///     Name (_UID, n)
///     Name (_CRS, ResourceTemplate () {
///       Memory32Fixed (ReadWrite, base, size)
///       Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { gsi }
///     })
///   }
#include <cstdint>
#include <span>
#include <vector>

#include "devices/virtio/mmio_devices.h"
#include "util/result.h"

namespace popek::acpi {

/// The Device() term for one virtio-mmio device (n = info.index, at most 35: VRT0..VRT9, VRTA..VRTZ).
Result<std::vector<uint8_t>> aml_virtio_device(const devices::virtio::MmioDeviceInfo& info);
/// The Device() terms of every device, concatenated, to put in the DSDT's \_SB scope.
Result<std::vector<uint8_t>> aml_virtio_devices(std::span<const devices::virtio::MmioDeviceInfo> devices);

/// 20.2.4 PkgLength for a package whose contents (after the PkgLength) are `content` bytes.
Result<std::vector<uint8_t>> aml_pkg_length(uint64_t content);

}  // namespace popek::acpi
