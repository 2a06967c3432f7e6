#include "devices/virtio/mmio_devices.h"

namespace popek::devices::virtio {

Result<MmioDeviceInfo> mmio_device_slot(uint32_t n) {
    if (n >= kMmioDeviceGsis.size())
        return fail("at most {} virtio-mmio devices are supported", kMmioDeviceGsis.size());
    return MmioDeviceInfo{n, kMmioDevicesBase + uint64_t{n} * kMmioWindowSize, kMmioWindowSize,
                          kMmioDeviceGsis[n], 0};
}

Result<MmioDeviceInfo> MmioDevices::add(std::shared_ptr<Device> device) {
    MmioDeviceInfo info = TRY(mmio_device_slot(static_cast<uint32_t>(m_info.size())));
    info.device_id = device->device_id();
    auto transport = std::make_shared<MmioTransport>(std::move(device), m_mem, m_irq_for_gsi(info.gsi), m_reporter);
    TRY_VOID(m_mmio.insert({info.base, info.size}, transport));
    m_transports.push_back(std::move(transport));
    m_info.push_back(info);
    return info;
}

void MmioDevices::shutdown() {
    for (auto& t : m_transports) t->device().shutdown();
}

}  // namespace popek::devices::virtio
