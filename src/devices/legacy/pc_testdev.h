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
#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "bus/device.h"

namespace popek::devices::legacy {

/// Bytes that read back what was written: the scratch register (4 bytes, inserted at both 0xe0
/// and 0xe8) and the iomem (64 KiB at 0xff000000, zero at reset). An access of n bytes at offset k
/// reads or replaces bytes k..k+n-1; bytes past the end read 0xff and take no writes.
class PcTestdevBytes final : public bus::Device {
public:
    static constexpr uint16_t kScratchPort = 0xe0, kScratchAliasPort = 0xe8;
    static constexpr uint64_t kScratchSize = 4;
    static constexpr uint64_t kIomemBase = 0xff000000, kIomemSize = 0x10000;

    /// `name`: a string literal (kept as a view).
    PcTestdevBytes(std::string_view name, size_t size) : m_name(name), m_bytes(size, 0) {}
    std::string_view name() const override { return m_name; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::string_view m_name;
    std::mutex m_mutex;
    std::vector<uint8_t> m_bytes;
};

/// Port 0xe4: accepted, no effect (see above); reads as 0.
class PcTestdevFlushPage final : public bus::Device {
public:
    static constexpr uint16_t kPort = 0xe4;
    static constexpr uint64_t kSize = 4;
    std::string_view name() const override { return "pc-testdev-flush-page"; }
    void read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), uint8_t{0}); }
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
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
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    SetLine m_set_line;
};

}  // namespace popek::devices::legacy
