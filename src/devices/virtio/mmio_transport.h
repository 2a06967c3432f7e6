#pragma once
/// virtio over MMIO, version 2 ("modern", 4.2.2): the register block in front of one Device,
/// feature negotiation, queue setup, interrupt status/acknowledge, configuration generation and
/// reset. The interrupt is level-triggered on the GSI given at construction: asserted while
/// InterruptStatus is non-zero.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "bus/device.h"
#include "devices/irq.h"
#include "devices/virtio/device.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::devices::virtio {

/// 4.2.2 MMIO Device Register Layout (offsets).
namespace mmio_reg {
inline constexpr uint64_t kMagicValue = 0x000;          ///< "virt"
inline constexpr uint64_t kVersion = 0x004;             ///< 2
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorId = 0x00c;
inline constexpr uint64_t kDeviceFeatures = 0x010;
inline constexpr uint64_t kDeviceFeaturesSel = 0x014;
inline constexpr uint64_t kDriverFeatures = 0x020;
inline constexpr uint64_t kDriverFeaturesSel = 0x024;
inline constexpr uint64_t kQueueSel = 0x030;
inline constexpr uint64_t kQueueNumMax = 0x034;
inline constexpr uint64_t kQueueNum = 0x038;
inline constexpr uint64_t kQueueReady = 0x044;
inline constexpr uint64_t kQueueNotify = 0x050;
inline constexpr uint64_t kInterruptStatus = 0x060;
inline constexpr uint64_t kInterruptAck = 0x064;
inline constexpr uint64_t kStatus = 0x070;
inline constexpr uint64_t kQueueDescLow = 0x080;
inline constexpr uint64_t kQueueDescHigh = 0x084;
inline constexpr uint64_t kQueueDriverLow = 0x090;
inline constexpr uint64_t kQueueDriverHigh = 0x094;
inline constexpr uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr uint64_t kShmSel = 0x0ac;
inline constexpr uint64_t kShmLenLow = 0x0b0;
inline constexpr uint64_t kShmLenHigh = 0x0b4;
inline constexpr uint64_t kShmBaseLow = 0x0b8;
inline constexpr uint64_t kShmBaseHigh = 0x0bc;
inline constexpr uint64_t kConfigGeneration = 0x0fc;
inline constexpr uint64_t kConfig = 0x100;
}  // namespace mmio_reg

inline constexpr uint32_t kMmioMagic = 0x74726976;  ///< little-endian "virt"
inline constexpr uint32_t kMmioVersion = 2;
inline constexpr uint32_t kPopekVendorId = 0x4b45504f;   ///< "OPEK", popek's vendor id
inline constexpr uint32_t kInterruptUsedBuffer = 1;  ///< 4.2.2 InterruptStatus bit 0
inline constexpr uint32_t kInterruptConfigChange = 2;
/// Size of one device's register window (4 KiB: a page of its own).
inline constexpr uint64_t kMmioWindowSize = 0x1000;

class MmioTransport final : public bus::Device, private DeviceHost {
public:
    /// `reporter`: told of every guest RAM write of the device (Queue::add_used); without one the
    /// transport says it may write RAM unreported (bus::Device::writes_guest_ram).
    MmioTransport(std::shared_ptr<virtio::Device> device, const memory::GuestMemory& mem, IrqLine irq,
                  RamWriteReporter reporter = {});
    ~MmioTransport() override;

    std::string_view name() const override { return m_device->name(); }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    /// Every RAM write of a virtio device goes through a chain and the used ring, which report it.
    bool writes_guest_ram() const override { return !m_reporter; }

    uint32_t status() const;
    uint32_t interrupt_status() const;
    virtio::Device& device() { return *m_device; }
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    // DeviceHost
    const memory::GuestMemory& memory() const override { return m_mem; }
    Queue& queue(size_t index) override { return m_queues.at(index); }
    void signal_used(size_t index) override;
    void needs_reset(const Error& why) override;
    bool with_lock(const std::function<void()>& fn) override;

    uint32_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint32_t value);
    void write_status(uint32_t value);
    void write_queue_ready(uint32_t value);
    bool negotiate_features();
    void reset_locked();
    void raise(uint32_t bits);
    Queue* selected_queue();
    bool active() const;

    std::shared_ptr<virtio::Device> m_device;
    const memory::GuestMemory& m_mem;
    IrqLine m_irq;
    RamWriteReporter m_reporter;
    mutable std::mutex m_mutex;
    std::vector<Queue> m_queues;
    uint64_t m_offered = 0;          ///< device features + transport features
    uint64_t m_driver_features = 0;
    uint32_t m_device_features_sel = 0, m_driver_features_sel = 0, m_queue_sel = 0;
    uint32_t m_status = 0;
    uint32_t m_interrupt_status = 0;
    uint32_t m_config_generation = 0;
    bool m_irq_level = false;
};

}  // namespace popek::devices::virtio
