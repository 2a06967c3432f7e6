#pragma once
/// The PCI reset control register at port 0xCF9 (Intel ICH/PCH datasheets, "RST_CNT"): writing
/// with bit 2 (RST_CPU) set resets the machine, which popek treats as the end of the VM (status 0).
#include <atomic>

#include "bus/device.h"
#include "devices/irq.h"

namespace popek::devices::legacy {

class ResetControl final : public bus::Device {
public:
    explicit ResetControl(VmControl& control) : m_control(control) {}
    std::string_view name() const override { return "reset-control"; }
    void read(uint64_t, std::span<uint8_t> data) override {
        std::fill(data.begin(), data.end(), uint8_t{0});
        if (!data.empty()) data[0] = m_value.load();
    }
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t, std::span<const uint8_t> data) override {
        if (data.empty()) return;
        m_value.store(data[0] & 0x0e);
        if (data[0] & 0x04) m_control.request_exit(ExitCause::Reset, 0, "reset (port 0xcf9)");
    }

private:
    VmControl& m_control;
    std::atomic<uint8_t> m_value{0};
};

}  // namespace popek::devices::legacy
