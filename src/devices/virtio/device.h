#pragma once
/// A virtio device (blk, net, console, rng) as its transport sees it. The device knows nothing of
/// the transport (MMIO today): it gets its queues, guest memory and interrupts through DeviceHost.
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "devices/virtio/queue.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::devices::virtio {

/// What a transport offers an active device. Every Device method is called with the transport's
/// lock held; a device's own threads (network receive, console input) enter through with_lock().
class DeviceHost {
public:
    virtual ~DeviceHost() = default;
    virtual const memory::GuestMemory& memory() const = 0;
    virtual Queue& queue(size_t index) = 0;
    /// Raises the used-buffer interrupt (4.2.2 InterruptStatus bit 0) if queue `index` asks for it.
    virtual void signal_used(size_t index) = 0;
    /// 2.1.2: the driver broke the protocol; set DEVICE_NEEDS_RESET and stop processing.
    virtual void needs_reset(const Error& why) = 0;
    /// Runs `fn` under the transport's lock if the device is still active (driver OK, not reset);
    /// returns false otherwise. For the device's own threads.
    virtual bool with_lock(const std::function<void()>& fn) = 0;
};

class Device {
public:
    virtual ~Device() = default;
    virtual std::string_view name() const = 0;
    virtual uint32_t device_id() const = 0;
    /// Device-type feature bits; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX.
    virtual uint64_t device_features() const = 0;
    virtual size_t queue_count() const = 0;
    virtual uint16_t queue_max_size() const { return 256; }
    /// Device configuration space (4.2.2 offset 0x100 onwards); bytes past its end read as 0.
    virtual void read_config(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write_config(uint64_t offset, std::span<const uint8_t> data) {
        (void)offset;
        (void)data;
    }
    /// DRIVER_OK: the queues are ready, `features` is what the driver accepted.
    virtual void activate(uint64_t features) = 0;
    /// The driver notified queue `index` (only called while active).
    virtual void notify(size_t index) = 0;
    /// Device reset (2.4): forget any in-flight state.
    virtual void reset() = 0;
    /// Stops the device's own threads; called by the transport (without its lock) before it goes
    /// away. After it returns the device never touches its host again.
    virtual void shutdown() {}

    /// Called once by the transport that owns this device; the host outlives every call into it.
    void attach(DeviceHost& host) { m_host = &host; }

protected:
    DeviceHost& host() { return *m_host; }

private:
    DeviceHost* m_host = nullptr;
};

/// Copies config bytes [offset, offset+data.size()) out of `config`; what lies past its end reads 0.
void read_config_bytes(std::span<const uint8_t> config, uint64_t offset, std::span<uint8_t> data);

/// Pops every available chain of queue `index`, hands it to `handle` (which returns the number of
/// bytes it wrote into the chain's writable buffers), returns it as used and signals the driver.
/// A queue error marks the device NEEDS_RESET. `handle` returning an error means "this request
/// failed in a way the driver cannot see" and also marks NEEDS_RESET.
void process_queue(DeviceHost& host, size_t index, const std::function<Result<uint32_t>(Chain&)>& handle);

}  // namespace popek::devices::virtio
