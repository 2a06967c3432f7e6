#pragma once
/// Local APIC (SDM Vol. 3A ch. 11) and I/O APIC (82093AA datasheet) through the direct map.
#include <stdint.h>

namespace pos {

// Interrupt vectors (docs/guest-os.md "Interrupts").
inline constexpr uint8_t kVectorTimer = 0x40, kVectorIrqBase = 0x30, kVectorSpurious = 0xff;
/// The Xen event-channel upcall (HVM_PARAM_CALLBACK_IRQ, type vector; xen/evtchn.cpp).
inline constexpr uint8_t kVectorXenUpcall = 0x41;
/// Wake-up IPI from one CPU to another (the scheduler's kick; docs/guest-os.md "SMP").
inline constexpr uint8_t kVectorReschedule = 0x42;

namespace lapic {
void init();
void eoi();
uint32_t id();
/// Fixed IPI of `vector` to the CPU with local APIC ID `apic_id` (SDM Vol. 3A 11.6.1, ICR).
void send_ipi(uint32_t apic_id, uint8_t vector);
/// INIT IPI, then STARTUP IPI at physical page `page` (SDM Vol. 3A 8.4.4.1, "MP initialization").
void send_init(uint32_t apic_id);
void send_startup(uint32_t apic_id, uint8_t page);
uint32_t read(uint32_t reg);
void write(uint32_t reg, uint32_t value);
// Registers (SDM Vol. 3A table 11-1).
inline constexpr uint32_t kEoi = 0xb0, kSvr = 0xf0, kLvtTimer = 0x320, kTimerInitial = 0x380,
                          kTimerCurrent = 0x390, kTimerDivide = 0x3e0, kIcrLow = 0x300, kIcrHigh = 0x310;
}  // namespace lapic

namespace ioapic {
/// Routes ISA interrupt `irq` (edge, active high) to vector kVectorIrqBase + irq on CPU 0.
void route_isa_irq(uint8_t irq);
}  // namespace ioapic

/// Masks both 8259 PICs: all interrupts come through the I/O APIC.
void disable_legacy_pic();

}  // namespace pos
