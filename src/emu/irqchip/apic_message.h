#pragma once
/// An interrupt message on the (virtual) APIC bus: what an ICR write (SDM Vol. 3A 10.6.1) or an
/// IOAPIC redirection entry (82093AA datasheet 3.2.4) sends to local APICs.
#include <cstdint>
#include <optional>

namespace popek::emu {

/// Delivery mode, ICR bits 10:8 / redirection entry bits 10:8.
enum class DeliveryMode : uint8_t {
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Reserved3 = 3,
    Nmi = 4,
    Init = 5,
    StartUp = 6,
    ExtInt = 7,
};

/// ICR bits 19:18.
enum class DestinationShorthand : uint8_t { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 };

struct ApicMessage {
    uint8_t vector = 0;
    DeliveryMode mode = DeliveryMode::Fixed;
    bool logical = false;           ///< destination mode: false physical (APIC ID), true logical (LDR)
    bool level_triggered = false;   ///< trigger mode (sets the TMR bit on acceptance)
    uint32_t destination = 0;       ///< xAPIC 8-bit destination field, or x2APIC's 32 bits
    /// The destination is x2APIC's 32-bit one (an ICR written in x2APIC mode, SDM Vol. 3A
    /// 10.12.9): broadcast is 0xffffffff, not 0xff.
    bool x2apic = false;
    DestinationShorthand shorthand = DestinationShorthand::None;
    int source = -1;                ///< sending vCPU index for IPIs, -1 for the IOAPIC
};

/// The message a compatibility-format MSI (SDM Vol. 3A 11.11: destination ID in address bits
/// 19:12, destination mode bit 2; vector, delivery mode and trigger mode in the data) sends;
/// nullopt when the address is not in the interrupt range 0xFEExxxxx.
/// Inline: the I/O APIC (remapped MSI) and the platform both use it, and tests and fuzz targets
/// that build ioapic.cpp alone need no other file.
inline std::optional<ApicMessage> apic_message_from_msi(uint64_t address, uint32_t data) {
    if ((address >> 20) != 0xfee) return std::nullopt;
    ApicMessage message;
    message.vector = static_cast<uint8_t>(data & 0xff);
    message.mode = static_cast<DeliveryMode>((data >> 8) & 7);
    message.level_triggered = (data & (1u << 15)) != 0;
    message.logical = (address & (1u << 2)) != 0;
    message.destination = static_cast<uint8_t>(address >> 12);
    return message;
}

/// Where local APICs send IPIs and EOIs; implemented by the platform's APIC bus.
class ApicBusSink {
public:
    virtual ~ApicBusSink() = default;
    /// Returns how many local APICs accepted the message.
    virtual unsigned send(const ApicMessage& message) = 0;
    /// A local APIC EOI'd a level-triggered vector (broadcast to the IOAPIC, 82093AA 3.2.4 RIRR).
    virtual void broadcast_eoi(uint8_t vector) = 0;
};

}  // namespace popek::emu
