// Snapshot state of virtio-mmio devices (docs/snapshot.md "VIRT"): the transport's registers
// and each virtqueue's addresses and indices (virtio 1.2 sections 2.1, 2.6, 4.2.2). A restored
// queue is checked as QueueReady checks it: every ring inside guest RAM and aligned.
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/queue.h"
#include "snapshot/snap_codec.h"

namespace popek::devices::virtio {

void Queue::save(snapshot::Writer& w) {
    w.u16(m_size);
    w.u64(m_desc);
    w.u64(m_avail);
    w.u64(m_used);
    for (bool b : {m_ready, m_indirect, m_event_idx, m_broken}) w.boolean(b);
    w.u16(m_next_avail);
    w.u16(m_next_used);
    w.u16(m_signalled_used);
}

void Queue::load(snapshot::Reader& r, const memory::GuestMemory& mem) {
    reset();
    m_size = r.u16();
    m_desc = r.u64();
    m_avail = r.u64();
    m_used = r.u64();
    const bool ready = r.boolean(), indirect = r.boolean(), event_idx = r.boolean(), broken = r.boolean();
    const uint16_t next_avail = r.u16(), next_used = r.u16(), signalled = r.u16();
    if (!r.ok()) return;
    if (ready) {
        if (auto e = enable(mem, indirect, event_idx); !e) {
            r.invalid("a ready virtqueue: {}", e.error().message);
            return;
        }
    } else if (m_size > m_max_size) {
        r.invalid("a virtqueue's size is {} (at most {})", m_size, m_max_size);
        return;
    }
    m_indirect = indirect;
    m_event_idx = event_idx;
    m_broken = broken;
    m_next_avail = next_avail;
    m_next_used = next_used;
    m_signalled_used = signalled;
}

void MmioTransport::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    w.u32(m_device->device_id());
    w.u64(m_offered);
    w.u64(m_driver_features);
    for (uint32_t v : {m_device_features_sel, m_driver_features_sel, m_queue_sel, m_status, m_interrupt_status,
                       m_config_generation})
        w.u32(v);
    w.boolean(m_irq_level);
    w.u32(static_cast<uint32_t>(m_queues.size()));
    for (Queue& q : m_queues) q.save(w);
}

void MmioTransport::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    const uint32_t id = r.u32();
    if (r.ok() && id != m_device->device_id())
        r.invalid("virtio device type {} where this VM has {} ({})", id, m_device->device_id(), m_device->name());
    const uint64_t offered = r.u64();
    if (r.ok() && offered != m_offered)
        r.invalid("{}: features {:#x} offered before, {:#x} now", m_device->name(), offered, m_offered);
    m_driver_features = r.u64();
    if (r.ok() && (m_driver_features & ~m_offered) != 0) r.invalid("{}: driver features not offered", m_device->name());
    for (uint32_t* v : {&m_device_features_sel, &m_driver_features_sel, &m_queue_sel, &m_status, &m_interrupt_status,
                        &m_config_generation})
        *v = r.u32();
    m_irq_level = r.boolean();
    const uint32_t queues = r.u32();
    if (r.ok() && queues != m_queues.size())
        r.invalid("{}: {} queues saved, the device has {}", m_device->name(), queues, m_queues.size());
    for (Queue& q : m_queues) {
        if (!r.ok()) return;
        q.load(r, m_mem);
    }
    // The device's own side starts again as on DRIVER_OK (4.2.3.1.1: a device set up by its driver).
    if (r.ok() && active()) m_device->activate(m_driver_features);
}

}  // namespace popek::devices::virtio
