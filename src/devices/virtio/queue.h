#pragma once
/// A split virtqueue (virtio 1.2, 2.7) seen from the device: descriptor chains are parsed through
/// GuestMemory with loop and length limits, and any driver misbehaviour (a chain longer than the
/// queue, a cycle, a buffer outside RAM, a bad indirect table, an available index running more than
/// a queue's worth ahead) breaks the queue: it stops processing and its owner marks the device
/// NEEDS_RESET (2.1.2). Not thread-safe: the transport serialises all calls.
#include <cstdint>
#include <functional>

#include "devices/virtio/chain.h"
#include "devices/virtio/spec.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::devices::virtio {

/// Told of guest RAM a device wrote (DMA: chain buffers, the used ring) right after the write, so
/// that the own engine drops code it decoded there (hv::Vm::device_wrote_ram). Called on the
/// device's thread.
using RamWriteReporter = std::function<void(memory::GuestAddress gpa, uint64_t len)>;

class Queue {
public:
    explicit Queue(uint16_t max_size = 256) : m_max_size(max_size) {}

    // --- configuration, written by the transport before the queue is made ready (4.2.3.2) ---
    uint16_t max_size() const { return m_max_size; }
    uint16_t size() const { return m_size; }
    void set_size(uint16_t size) { m_size = size; }
    memory::GuestAddress desc_addr() const { return m_desc; }
    memory::GuestAddress avail_addr() const { return m_avail; }
    memory::GuestAddress used_addr() const { return m_used; }
    void set_desc_addr(memory::GuestAddress a) { m_desc = a; }
    void set_avail_addr(memory::GuestAddress a) { m_avail = a; }
    void set_used_addr(memory::GuestAddress a) { m_used = a; }
    bool ready() const { return m_ready; }

    /// Checks the size (a power of 2 up to max_size) and that the three areas are aligned (2.7) and
    /// inside guest RAM, then marks the queue ready. `indirect`/`event_idx`: negotiated features.
    Result<void> enable(const memory::GuestMemory& mem, bool indirect, bool event_idx);
    void disable() { m_ready = false; }
    /// Back to the state after a device reset (2.4): size = max, addresses 0, not ready.
    void reset();
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r, const memory::GuestMemory& mem);

    // --- the data path ---
    /// Pops the next available chain into `chain`; false when the ring is empty. An error breaks
    /// the queue (see broken()).
    Result<bool> pop(const memory::GuestMemory& mem, Chain& chain);
    /// Returns `head` to the driver with `written` bytes written to its device-writable buffers.
    Result<void> add_used(const memory::GuestMemory& mem, uint16_t head, uint32_t written);
    /// The same for a chain the device wrote into: its device-writable buffers are reported to
    /// the RAM-write reporter (if any) before the used entry publishes them, the used ring after.
    Result<void> add_used(const memory::GuestMemory& mem, const Chain& chain, uint32_t written);
    /// Who hears of guest RAM this queue's device wrote (the transport's; outlives the queue).
    void set_ram_write_reporter(const RamWriteReporter* reporter) { m_reporter = reporter; }
    /// After a batch of add_used: whether the driver wants an interrupt now (2.7.7.2: the
    /// used_event index with VIRTIO_F_EVENT_IDX, the NO_INTERRUPT flag otherwise).
    Result<bool> should_interrupt(const memory::GuestMemory& mem);

    bool broken() const { return m_broken; }
    /// Chains popped and not yet returned (the in-flight count, for tests and sanity checks).
    uint16_t in_flight() const { return static_cast<uint16_t>(m_next_avail - m_next_used); }

private:
    Result<uint16_t> load_avail_idx(const memory::GuestMemory& mem) const;
    Result<void> walk(const memory::GuestMemory& mem, uint16_t head, Chain& chain) const;
    Result<void> add_buffer(const memory::GuestMemory& mem, const VirtqDesc& d, Chain& chain) const;
    template <class T>
    Result<T> broken_error(Error e);

    uint16_t m_max_size;
    uint16_t m_size = 0;
    memory::GuestAddress m_desc = 0, m_avail = 0, m_used = 0;
    bool m_ready = false;
    bool m_indirect = false;
    bool m_event_idx = false;
    bool m_broken = false;
    uint16_t m_next_avail = 0;      ///< the driver's next available-ring slot we will read
    uint16_t m_next_used = 0;       ///< our used idx (free-running)
    uint16_t m_signalled_used = 0;  ///< used idx at the last interrupt decision (event idx)
    const RamWriteReporter* m_reporter = nullptr;
};

}  // namespace popek::devices::virtio
