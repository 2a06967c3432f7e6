#pragma once
/// The PS/2 controller (i8042) as far as an OS needs it with no keyboard attached: status and
/// command byte, self tests, and the reset line (command 0xFE, or output-port bit 0 cleared through
/// command 0xD1) that PCs use to reboot. Registered as two one-byte devices: data port 0x60 and
/// status/command port 0x64 (port 0x61 in between belongs to the PIT/speaker logic).
///
/// The one keyboard event is Firecracker's SendCtrlAltDel: the scan codes of Ctrl+Alt+Del
/// pressed and released, in set 1 as a translating controller delivers them (command byte bit 6,
/// on by default), one byte per IRQ 1 while the command byte enables the keyboard interrupt.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "bus/device.h"
#include "devices/irq.h"

namespace popek::snapshot {
class Writer;
class Reader;
}

namespace popek::devices::legacy {

class I8042 {
public:
    /// A flood of SendCtrlAltDel requests cannot grow the key queue without bound.
    static constexpr size_t kMaxQueuedKeys = 64;
    explicit I8042(VmControl& control);
    std::shared_ptr<bus::Device> data_port() { return m_data; }
    std::shared_ptr<bus::Device> command_port() { return m_command; }

    uint8_t read_data();
    void write_data(uint8_t value);
    uint8_t read_status();
    void write_command(uint8_t value);

    /// Pulses IRQ 1 (set by the board: the VM's GSI 1).
    void set_keyboard_irq(std::function<void()> pulse);
    /// Queues Ctrl+Alt+Del pressed and released (PUT /actions SendCtrlAltDel, docs/api.md).
    void press_ctrl_alt_del();
    /// Snapshots (docs/snapshot.md "KBC "): the command byte (Linux's i8042 driver sets it), the
    /// output buffer, a command waiting for its data byte, the keys not yet delivered.
    void save(snapshot::Writer& w);
    void load(snapshot::Reader& r);

private:
    /// Moves the next queued key byte into the output buffer; true when the IRQ is to be pulsed.
    bool feed_key_locked();
    class Port;
    VmControl& m_control;
    std::mutex m_mutex;
    std::optional<uint8_t> m_output;        // byte waiting in the output buffer
    std::optional<uint8_t> m_pending_cmd;   // command waiting for its data byte
    std::deque<uint8_t> m_keys;             // scan codes not yet in the output buffer
    std::function<void()> m_keyboard_irq;
    uint8_t m_command_byte = 0x45;          // kbd interrupt on, system flag, translation
    std::shared_ptr<bus::Device> m_data, m_command;
};

}  // namespace popek::devices::legacy
