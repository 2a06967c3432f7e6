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
