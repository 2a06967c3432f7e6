#pragma once
/// isa-debug-exit (QEMU's convention): a write of `value` ends the VM with exit status value*2+1,
/// so a guest test harness can report pass/fail through popek's exit status.
#include "bus/device.h"
#include "devices/irq.h"

namespace popek::devices::legacy {

class DebugExit final : public bus::Device {
public:
    explicit DebugExit(VmControl& control) : m_control(control) {}
    std::string_view name() const override { return "debug-exit"; }
    void read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), uint8_t{0}); }
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t, std::span<const uint8_t> data) override {
        uint64_t value = bus::span_to_u64(data);
        m_control.request_exit(ExitCause::DebugExit, static_cast<int>(((value << 1) | 1) & 0xff), "debug-exit");
    }

private:
    VmControl& m_control;
};

}  // namespace popek::devices::legacy
