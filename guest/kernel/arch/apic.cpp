#include "arch/apic.h"

#include "arch/x86.h"
#include "mm/pmm.h"

namespace pos {
namespace {
constexpr uint64_t kLapicPhys = 0xfee00000, kIoapicPhys = 0xfec00000;
volatile uint32_t* lapic_reg(uint32_t reg) { return phys_to_virt<volatile uint32_t>(kLapicPhys + reg); }
}  // namespace

namespace lapic {

uint32_t read(uint32_t reg) { return *lapic_reg(reg); }
void write(uint32_t reg, uint32_t value) { *lapic_reg(reg) = value; }
void eoi() { write(kEoi, 0); }
uint32_t id() { return read(0x20) >> 24; }

namespace {
/// Writes the ICR (destination first: the low half sends) and waits for the delivery status to
/// clear (bit 12), bounded so a stuck APIC cannot hang the kernel.
void send_icr(uint32_t apic_id, uint32_t low) {
    write(kIcrHigh, apic_id << 24);
    write(kIcrLow, low);
    for (int i = 0; i < 100000 && (read(kIcrLow) & (1u << 12)) != 0; ++i) x86::pause();
}
}  // namespace

void send_ipi(uint32_t apic_id, uint8_t vector) { send_icr(apic_id, vector); }   // fixed, physical, edge
void send_init(uint32_t apic_id) { send_icr(apic_id, 0x4500); }                  // INIT, level assert
void send_startup(uint32_t apic_id, uint8_t page) { send_icr(apic_id, 0x4600u | page); }

void init() {
    // Software-enable with the spurious vector (SDM Vol. 3A 11.9).
    write(kSvr, 0x100 | kVectorSpurious);
}

}  // namespace lapic

namespace ioapic {

void route_isa_irq(uint8_t irq) {
    auto* sel = phys_to_virt<volatile uint32_t>(kIoapicPhys);
    auto* win = phys_to_virt<volatile uint32_t>(kIoapicPhys + 0x10);
    // Redirection table entry (82093AA 3.2.4): fixed delivery, physical destination APIC 0.
    *sel = 0x10u + 2u * irq + 1u;
    *win = 0;
    *sel = 0x10u + 2u * irq;
    *win = static_cast<uint32_t>(kVectorIrqBase + irq);
}

}  // namespace ioapic

void disable_legacy_pic() {
    x86::outb(0x21, 0xff);
    x86::outb(0xa1, 0xff);
}

}  // namespace pos
