#pragma once
/// The PS/2 controller (i8042) as far as an OS needs it with no keyboard attached: status and
/// command byte, self tests, and the reset line (command 0xFE, or output-port bit 0 cleared through
/// command 0xD1) that PCs use to reboot. Registered as two one-byte devices: data port 0x60 and
/// status/command port 0x64 (port 0x61 in between belongs to the PIT/speaker logic).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "bus/device.h"
#include "devices/irq.h"

namespace popek::devices::legacy {

class I8042 {
public:
    explicit I8042(VmControl& control);
    std::shared_ptr<bus::Device> data_port() { return m_data; }
    std::shared_ptr<bus::Device> command_port() { return m_command; }

    uint8_t read_data();
    void write_data(uint8_t value);
    uint8_t read_status();
    void write_command(uint8_t value);

private:
    class Port;
    VmControl& m_control;
    std::mutex m_mutex;
    std::optional<uint8_t> m_output;        // byte waiting in the output buffer
    std::optional<uint8_t> m_pending_cmd;   // command waiting for its data byte
    uint8_t m_command_byte = 0x45;          // kbd interrupt on, system flag, translation
    std::shared_ptr<bus::Device> m_data, m_command;
};

}  // namespace popek::devices::legacy
