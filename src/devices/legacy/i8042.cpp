#include "devices/legacy/i8042.h"

namespace popek::devices::legacy {
namespace {

// Controller commands (IBM PC/AT Technical Reference, "Keyboard Controller").
constexpr uint8_t kReadCommandByte = 0x20, kWriteCommandByte = 0x60, kSelfTest = 0xaa,
                  kKbdInterfaceTest = 0xab, kAuxInterfaceTest = 0xa9, kWriteOutputPort = 0xd1,
                  kReadOutputPort = 0xd0, kPulseReset = 0xfe;
constexpr uint8_t kStatusOutputFull = 0x01, kStatusSystemFlag = 0x04, kStatusCommand = 0x08;
constexpr uint8_t kCommandByteKbdInterrupt = 0x01;
/// Ctrl, Alt, Del (E0 53) pressed, then released (make | 0x80): scan code set 1 (IBM PC/AT
/// Technical Reference, "Keyboard Scan Codes"; what Firecracker's SendCtrlAltDel types).
constexpr uint8_t kCtrlAltDel[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};

}  // namespace

class I8042::Port final : public bus::Device {
public:
    Port(I8042& owner, bool command) : m_owner(owner), m_is_command(command) {}
    std::string_view name() const override { return m_is_command ? "i8042-cmd" : "i8042-data"; }
    void read(uint64_t, std::span<uint8_t> data) override {
        std::fill(data.begin(), data.end(), uint8_t{0xff});
        if (!data.empty()) data[0] = m_is_command ? m_owner.read_status() : m_owner.read_data();
    }
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t, std::span<const uint8_t> data) override {
        if (data.empty()) return;
        if (m_is_command) m_owner.write_command(data[0]);
        else m_owner.write_data(data[0]);
    }

private:
    I8042& m_owner;
    bool m_is_command;
};

I8042::I8042(VmControl& control)
    : m_control(control), m_data(std::make_shared<Port>(*this, false)), m_command(std::make_shared<Port>(*this, true)) {}

uint8_t I8042::read_data() {
    bool pulse = false;
    uint8_t v = 0;
    {
        std::lock_guard lock(m_mutex);
        v = m_output.value_or(0);
        m_output.reset();
        pulse = feed_key_locked();
    }
    if (pulse) m_keyboard_irq();
    return v;
}

bool I8042::feed_key_locked() {
    if (m_output || m_keys.empty()) return false;
    m_output = m_keys.front();
    m_keys.pop_front();
    return m_keyboard_irq && (m_command_byte & kCommandByteKbdInterrupt);
}

void I8042::set_keyboard_irq(std::function<void()> pulse) {
    std::lock_guard lock(m_mutex);
    m_keyboard_irq = std::move(pulse);
}

void I8042::press_ctrl_alt_del() {
    bool pulse = false;
    {
        std::lock_guard lock(m_mutex);
        if (m_keys.size() + std::size(kCtrlAltDel) > kMaxQueuedKeys) return;
        m_keys.insert(m_keys.end(), std::begin(kCtrlAltDel), std::end(kCtrlAltDel));
        pulse = feed_key_locked();
    }
    if (pulse) m_keyboard_irq();
}

uint8_t I8042::read_status() {
    std::lock_guard lock(m_mutex);
    uint8_t s = kStatusSystemFlag;
    if (m_output) s |= kStatusOutputFull;
    if (m_pending_cmd) s |= kStatusCommand;
    return s;
}

void I8042::write_data(uint8_t value) {
    bool reset = false;
    {
        std::lock_guard lock(m_mutex);
        if (!m_pending_cmd) return;  // bytes for the (absent) keyboard are dropped
        uint8_t cmd = *m_pending_cmd;
        m_pending_cmd.reset();
        if (cmd == kWriteCommandByte) m_command_byte = value;
        if (cmd == kWriteOutputPort && (value & 0x01) == 0) reset = true;  // bit 0: CPU reset line
    }
    if (reset) m_control.request_exit(ExitCause::Reset, 0, "reset (i8042 output port)");
}

void I8042::write_command(uint8_t value) {
    if (value == kPulseReset) {
        m_control.request_exit(ExitCause::Reset, 0, "reset (i8042 0xFE)");
        return;
    }
    std::lock_guard lock(m_mutex);
    switch (value) {
        case kReadCommandByte: m_output = m_command_byte; break;
        case kWriteCommandByte:
        case kWriteOutputPort: m_pending_cmd = value; break;
        case kReadOutputPort: m_output = 0x01; break;  // reset line inactive (high)
        case kSelfTest: m_output = 0x55; break;
        case kKbdInterfaceTest:
        case kAuxInterfaceTest: m_output = 0x00; break;
        default: break;  // enable/disable ports and the rest: accepted, no effect
    }
}

}  // namespace popek::devices::legacy
