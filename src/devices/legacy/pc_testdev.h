#pragma once
/// What QEMU's pc-testdev offers a guest (the device kvm-unit-tests runs with), behind `--test-dev`
/// next to popek's own test device:
///   - a 32-bit scratch register at ports 0xe0-0xe3, the same register again at 0xe8-0xeb;
///   - port 0xe4 "flush page": takes a guest-physical address; on QEMU it only re-protects the
///     host mapping (so KVM refaults it), nothing a guest can observe, so popek accepts and drops it;
///   - ports 0x2000 + n (n < 24): a byte written sets ISA interrupt line n to (value != 0), on the
///     PIC (n < 16) and the I/O APIC alike (hv::Vm::set_irq_line);
///   - 64 KiB of RAM-like MMIO at 0xff000000 ("iomem"): every access is an exit, which is how
///     kvm-unit-tests' emulator test makes instructions run in the VMM's emulator.
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "bus/device.h"

namespace popek::devices::legacy {

/// The scratch register (insert it at both 0xe0 and 0xe8). An access of n bytes at offset k
/// reads or replaces bytes k..k+n-1 of the register; bytes past the register read 0xff.
class PcTestdevScratch final : public bus::Device {
public:
    static constexpr uint16_t kPort = 0xe0, kAliasPort = 0xe8;
    static constexpr uint64_t kSize = 4;
    std::string_view name() const override { return "pc-testdev-ioport"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::mutex m_mutex;
    std::array<uint8_t, kSize> m_bytes{};
};

/// Port 0xe4: accepted, no effect (see above); reads as 0.
class PcTestdevFlushPage final : public bus::Device {
public:
    static constexpr uint16_t kPort = 0xe4;
    static constexpr uint64_t kSize = 4;
    std::string_view name() const override { return "pc-testdev-flush-page"; }
    void read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), uint8_t{0}); }
    void write(uint64_t, std::span<const uint8_t>) override {}
};

/// Ports 0x2000-0x2017: interrupt line n follows the last byte written to 0x2000 + n.
class PcTestdevIrqLines final : public bus::Device {
public:
    static constexpr uint16_t kPort = 0x2000;
    static constexpr uint64_t kSize = 24;
    using SetLine = std::function<void(uint32_t line, bool level)>;
    explicit PcTestdevIrqLines(SetLine set_line) : m_set_line(std::move(set_line)) {}
    std::string_view name() const override { return "pc-testdev-irq"; }
    void read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), uint8_t{0}); }
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    SetLine m_set_line;
};

/// 64 KiB at 0xff000000 that behaves like RAM (zero at reset).
class PcTestdevIomem final : public bus::Device {
public:
    static constexpr uint64_t kBase = 0xff000000, kSize = 0x10000;
    PcTestdevIomem() : m_bytes(kSize, 0) {}
    std::string_view name() const override { return "pc-testdev-iomem"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::mutex m_mutex;
    std::vector<uint8_t> m_bytes;
};

}  // namespace popek::devices::legacy
