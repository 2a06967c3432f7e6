#pragma once
/// ACPI fixed-hardware power management registers in I/O space (ACPI 6.4 4.8.3): PM1a event block
/// (PM1_STS, PM1_EN), PM1a control block (PM1_CNT) and the 24-bit PM timer (3.579545 MHz).
/// Writing SLP_TYP = S5 with SLP_EN powers the machine off (\_S5 in popek's DSDT uses kSlpTypS5);
/// SLP_TYP = S3 with SLP_EN (\_S3, kSlpTypS3, QEMU's value) calls the sleep hook, which suspends
/// the VM to RAM (vmm/acpi_sleep.h) until a wake event: the RTC alarm with RTC_EN (4.8.3.1.1),
/// which sets RTC_STS and WAK_STS here.
/// There is no SMI command port, so SCI_EN always reads 1: the machine is in ACPI mode from reset.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "bus/device.h"
#include "devices/irq.h"

namespace popek::snapshot {
class Writer;
class Reader;
}

namespace popek::devices::legacy {

class AcpiPm final : public bus::Device {
public:
    static constexpr uint64_t kSize = 12;       ///< PM1a_EVT (4) + PM1a_CNT (2) + pad (2) + PM_TMR (4)
    static constexpr uint64_t kPm1Status = 0, kPm1Enable = 2, kPm1Control = 4, kPmTimer = 8;
    static constexpr uint16_t kSciEn = 1u << 0, kSlpEn = 1u << 13;
    static constexpr unsigned kSlpTypShift = 10;
    static constexpr uint16_t kSlpTypMask = 7u << kSlpTypShift;
    static constexpr uint16_t kSlpTypS5 = 5;
    static constexpr uint16_t kSlpTypS3 = 1;
    /// PM1_STS / PM1_EN bits (ACPI 6.4 tables 4-16, 4-17): RTC_STS/RTC_EN, WAK_STS.
    static constexpr uint16_t kRtcSts = 1u << 10, kRtcEn = 1u << 10, kWakSts = 1u << 15;
    static constexpr uint64_t kTimerHz = 3'579'545;

    /// The guest's time in ns (the own engine's clock, which stands still while the VM is paused
    /// and goes on across a snapshot), or nullopt where the engine keeps none (KVM): then the PM
    /// timer counts the host's steady clock from the device's creation.
    using GuestNs = std::function<std::optional<uint64_t>()>;
    /// Called on the writing vCPU's thread when the guest enters S3 (SLP_TYP = S3 with SLP_EN).
    using SleepHook = std::function<void()>;
    explicit AcpiPm(VmControl& control, GuestNs guest_ns = {}, SleepHook on_s3 = {});
    std::string_view name() const override { return "acpi-pm"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    /// Whether the RTC alarm may wake the VM from S3 (PM1_EN.RTC_EN).
    bool rtc_wake_enabled() const { return (m_enable.load() & kRtcEn) != 0; }
    /// The RTC woke the VM: RTC_STS and WAK_STS are set (4.8.3.1.1).
    void rtc_woke() { m_status.fetch_or(kRtcSts | kWakSts); }
    /// The PM timer value now (24 bits).
    uint32_t timer() const;
    /// Snapshots (docs/snapshot.md "ACPI"): PM1_STS, PM1_EN, PM1_CNT. The timer follows the guest
    /// clock, which the restore continues.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    uint8_t read_byte(uint64_t offset) const;

    VmControl& m_control;
    GuestNs m_guest_ns;
    SleepHook m_on_s3;
    std::chrono::steady_clock::time_point m_start;
    std::atomic<uint16_t> m_status{0};
    std::atomic<uint16_t> m_enable{0};
    std::atomic<uint16_t> m_control_reg{kSciEn};
};

}  // namespace popek::devices::legacy
