#include "devices/legacy/acpi_pm.h"

namespace popek::devices::legacy {

AcpiPm::AcpiPm(VmControl& control, GuestNs guest_ns, SleepHook on_s3)
    : m_control(control), m_guest_ns(std::move(guest_ns)), m_on_s3(std::move(on_s3)),
      m_start(std::chrono::steady_clock::now()) {}

uint32_t AcpiPm::timer() const {
    std::optional<uint64_t> guest = m_guest_ns ? m_guest_ns() : std::nullopt;
    const uint64_t ns = guest ? *guest
                              : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - m_start).count());
    unsigned __int128 ticks = static_cast<unsigned __int128>(ns) * kTimerHz / 1'000'000'000u;
    return static_cast<uint32_t>(ticks & 0xffffff);
}

uint8_t AcpiPm::read_byte(uint64_t offset) const {
    auto byte_of = [](uint32_t v, uint64_t i) { return static_cast<uint8_t>(v >> (8 * i)); };
    if (offset < kPm1Enable) return byte_of(m_status.load(), offset - kPm1Status);
    if (offset < kPm1Control) return byte_of(m_enable.load(), offset - kPm1Enable);
    // SLP_EN is write-only and reads as 0 (4.8.3.2.1).
    if (offset < kPm1Control + 2) return byte_of(m_control_reg.load() & ~kSlpEn, offset - kPm1Control);
    if (offset >= kPmTimer && offset < kPmTimer + 4) return byte_of(timer(), offset - kPmTimer);
    return 0;  // the pad between the control block and the timer
}

void AcpiPm::read(uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = read_byte(offset + i);
}

void AcpiPm::write(uint64_t offset, std::span<const uint8_t> data) {
    // Merge the written bytes into each 16-bit register they touch; status bits are write-1-to-clear.
    for (uint64_t reg : {kPm1Status, kPm1Enable, kPm1Control}) {
        uint16_t written = 0, mask = 0;
        for (size_t i = 0; i < data.size(); ++i) {
            uint64_t at = offset + i;
            if (at < reg || at >= reg + 2) continue;
            written = static_cast<uint16_t>(written | data[i] << (8 * (at - reg)));
            mask = static_cast<uint16_t>(mask | 0xff << (8 * (at - reg)));
        }
        if (mask == 0) continue;
        if (reg == kPm1Status) {
            m_status.fetch_and(static_cast<uint16_t>(~(written & mask)));
        } else if (reg == kPm1Enable) {
            m_enable.store(static_cast<uint16_t>((m_enable.load() & ~mask) | (written & mask)));
        } else {
            uint16_t value = static_cast<uint16_t>((m_control_reg.load() & ~mask) | (written & mask));
            m_control_reg.store(static_cast<uint16_t>(value | kSciEn));
            uint16_t slp_typ = static_cast<uint16_t>((value & kSlpTypMask) >> kSlpTypShift);
            if ((value & kSlpEn) && slp_typ == kSlpTypS5) m_control.request_exit(ExitCause::Poweroff, 0, "poweroff");
            // S3 where the board can suspend (a VM without the hook keeps running, as for the
            // sleep types the DSDT does not offer).
            if ((value & kSlpEn) && slp_typ == kSlpTypS3 && m_on_s3) m_on_s3();
        }
    }
}

}  // namespace popek::devices::legacy
