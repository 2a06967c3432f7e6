#include "devices/virtio/mmio_transport.h"

#include <fmt/format.h>

#include "devices/virtio/guest_error.h"

namespace popek::devices::virtio {
namespace {

constexpr uint64_t kTransportFeatures =
    feature_bit(kFeatureVersion1) | feature_bit(kFeatureIndirectDesc) | feature_bit(kFeatureEventIdx);

uint64_t set_half(uint64_t value, bool high, uint32_t half) {
    return high ? (value & 0xffff'ffffull) | (uint64_t{half} << 32) : (value & ~0xffff'ffffull) | half;
}

}  // namespace

MmioTransport::MmioTransport(std::shared_ptr<virtio::Device> device, const memory::GuestMemory& mem, IrqLine irq,
                             RamWriteReporter reporter)
    : m_device(std::move(device)), m_mem(mem), m_irq(std::move(irq)), m_reporter(std::move(reporter)) {
    m_offered = m_device->device_features() | kTransportFeatures;
    m_queues.assign(m_device->queue_count(), Queue(m_device->queue_max_size()));
    for (Queue& q : m_queues) {
        q.reset();
        q.set_ram_write_reporter(&m_reporter);
    }
    m_device->attach(*this);
}

MmioTransport::~MmioTransport() {
    m_device->shutdown();
    std::lock_guard lock(m_mutex);
    if (active()) m_device->reset();
}

uint32_t MmioTransport::status() const {
    std::lock_guard lock(m_mutex);
    return m_status;
}

uint32_t MmioTransport::interrupt_status() const {
    std::lock_guard lock(m_mutex);
    return m_interrupt_status;
}

bool MmioTransport::active() const {
    return (m_status & kStatusDriverOk) && !(m_status & (kStatusNeedsReset | kStatusFailed));
}

void MmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    if (offset >= mmio_reg::kConfig) {
        m_device->read_config(offset - mmio_reg::kConfig, data);
        return;
    }
    // 4.2.2.2: the driver uses 32-bit aligned accesses for registers; anything else reads as 0.
    if (data.size() != 4 || offset % 4 != 0) {
        std::fill(data.begin(), data.end(), uint8_t{0});
        report_guest_error(m_device->name(), fmt::format("{}-byte register read at {:#x}", data.size(), offset));
        return;
    }
    bus::u64_to_span(read_register(offset), data);
}

void MmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    if (offset >= mmio_reg::kConfig) {
        m_device->write_config(offset - mmio_reg::kConfig, data);
        return;
    }
    if (data.size() != 4 || offset % 4 != 0) {
        report_guest_error(m_device->name(), fmt::format("{}-byte register write at {:#x}", data.size(), offset));
        return;
    }
    write_register(offset, static_cast<uint32_t>(bus::span_to_u64(data)));
}

Queue* MmioTransport::selected_queue() {
    return m_queue_sel < m_queues.size() ? &m_queues[m_queue_sel] : nullptr;
}

uint32_t MmioTransport::read_register(uint64_t offset) {
    using namespace mmio_reg;
    Queue* q = selected_queue();
    switch (offset) {
    case kMagicValue: return kMmioMagic;
    case kVersion: return kMmioVersion;
    case kDeviceId: return m_device->device_id();
    case kVendorId: return kPopekVendorId;
    case kDeviceFeatures:
        return m_device_features_sel < 2 ? static_cast<uint32_t>(m_offered >> (32 * m_device_features_sel)) : 0;
    case kQueueNumMax: return q ? q->max_size() : 0;   // 0: the queue does not exist
    case kQueueReady: return q && q->ready() ? 1 : 0;
    case kInterruptStatus: return m_interrupt_status;
    case kStatus: return m_status;
    case kShmLenLow:
    case kShmLenHigh: return 0xffff'ffff;              // 4.2.2: no shared memory region
    case kConfigGeneration: return m_config_generation;
    default: return 0;                                 // write-only or reserved
    }
}

void MmioTransport::write_register(uint64_t offset, uint32_t value) {
    using namespace mmio_reg;
    Queue* q = selected_queue();
    // Queue configuration is frozen while the queue is ready (4.2.3.2 sets it up before QueueReady).
    Queue* cfg = q && !q->ready() ? q : nullptr;
    switch (offset) {
    case kDeviceFeaturesSel: m_device_features_sel = value; break;
    case kDriverFeaturesSel: m_driver_features_sel = value; break;
    case kDriverFeatures:
        // 3.1.1: features are written before FEATURES_OK and never after.
        if (!(m_status & kStatusFeaturesOk) && m_driver_features_sel < 2)
            m_driver_features = set_half(m_driver_features, m_driver_features_sel == 1, value);
        break;
    case kQueueSel: m_queue_sel = value; break;
    case kQueueNum:
        if (cfg) cfg->set_size(static_cast<uint16_t>(std::min<uint32_t>(value, 0xffff)));
        break;
    case kQueueReady: write_queue_ready(value); break;
    case kQueueDescLow:
    case kQueueDescHigh:
        if (cfg) cfg->set_desc_addr(set_half(cfg->desc_addr(), offset == kQueueDescHigh, value));
        break;
    case kQueueDriverLow:
    case kQueueDriverHigh:
        if (cfg) cfg->set_avail_addr(set_half(cfg->avail_addr(), offset == kQueueDriverHigh, value));
        break;
    case kQueueDeviceLow:
    case kQueueDeviceHigh:
        if (cfg) cfg->set_used_addr(set_half(cfg->used_addr(), offset == kQueueDeviceHigh, value));
        break;
    case kQueueNotify:
        if (active() && value < m_queues.size() && m_queues[value].ready() && !m_queues[value].broken())
            m_device->notify(value);
        break;
    case kInterruptAck:
        m_interrupt_status &= ~value;
        raise(0);
        break;
    case kStatus: write_status(value); break;
    default:
        report_guest_error(m_device->name(), fmt::format("write {:#x} to read-only/reserved register {:#x}", value, offset));
        break;
    }
}

void MmioTransport::write_queue_ready(uint32_t value) {
    Queue* q = selected_queue();
    if (!q) return;
    if (value == 0) {
        q->disable();
        return;
    }
    if (q->ready()) return;
    auto r = q->enable(m_mem, (m_driver_features & feature_bit(kFeatureIndirectDesc)) != 0,
                       (m_driver_features & feature_bit(kFeatureEventIdx)) != 0);
    // The queue stays not ready: the driver can see it by reading QueueReady back.
    if (!r) report_guest_error(m_device->name(), fmt::format("queue {} not enabled: {}", m_queue_sel, r.error().message));
}

bool MmioTransport::negotiate_features() {
    if ((m_driver_features & ~m_offered) != 0) {
        report_guest_error(m_device->name(), fmt::format("driver accepted unoffered features {:#x}", m_driver_features & ~m_offered));
        return false;
    }
    // 6.1: this device is modern only, a legacy driver must fail FEATURES_OK.
    if (!(m_driver_features & feature_bit(kFeatureVersion1))) {
        report_guest_error(m_device->name(), "driver did not accept VIRTIO_F_VERSION_1");
        return false;
    }
    return true;
}

void MmioTransport::write_status(uint32_t value) {
    if (value == 0) {
        reset_locked();
        return;
    }
    // 2.1.1: the driver only ever adds bits (clearing them is a reset).
    uint32_t added = value & ~m_status;
    if ((value & m_status) != m_status)
        report_guest_error(m_device->name(), fmt::format("status {:#x} clears bits of {:#x}", value, m_status));
    if ((added & kStatusFeaturesOk) && !negotiate_features()) added &= ~kStatusFeaturesOk;
    if ((added & kStatusDriverOk) && !((m_status | added) & kStatusFeaturesOk)) added &= ~kStatusDriverOk;
    m_status |= added & ~kStatusNeedsReset;
    if (added & kStatusDriverOk) m_device->activate(m_driver_features);
}

void MmioTransport::reset_locked() {
    if (active() || (m_status & kStatusNeedsReset)) m_device->reset();
    for (Queue& q : m_queues) q.reset();
    m_status = 0;
    m_driver_features = 0;
    m_device_features_sel = m_driver_features_sel = m_queue_sel = 0;
    m_interrupt_status = 0;
    raise(0);
}

void MmioTransport::raise(uint32_t bits) {
    m_interrupt_status |= bits;
    bool level = m_interrupt_status != 0;
    if (level != m_irq_level) {
        m_irq_level = level;
        if (m_irq) m_irq(level);
    }
}

void MmioTransport::signal_used(size_t index) {
    auto want = m_queues.at(index).should_interrupt(m_mem);
    if (!want) {
        needs_reset(want.error());
        return;
    }
    if (*want) raise(kInterruptUsedBuffer);
}

void MmioTransport::needs_reset(const Error& why) {
    report_guest_error(m_device->name(), fmt::format("device needs reset: {}", why.message));
    if (m_status & kStatusNeedsReset) return;
    // The device is reset when the driver resets it (reset_locked); until then nothing reaches it.
    m_status |= kStatusNeedsReset;
    // 2.1.2: the device SHOULD send a configuration change notification.
    ++m_config_generation;
    raise(kInterruptConfigChange);
}

bool MmioTransport::with_lock(const std::function<void()>& fn) {
    std::lock_guard lock(m_mutex);
    if (!active()) return false;
    fn();
    return true;
}

}  // namespace popek::devices::virtio
