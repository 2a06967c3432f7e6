#pragma once
/// The own engine's interrupt controllers and timers for one VM, like KVM's in-kernel irqchip and
/// PIT: a local APIC per vCPU, one IOAPIC (24 pins at 0xfec00000), the 8259A PIC pair with its
/// ELCR, and the 8254 PIT with port 0x61, all on one guest clock.
///
/// Wiring (popek's MADT: ISA IRQs identity-mapped to GSIs, no IRQ0 -> GSI 2 override):
/// - set_irq_line(gsi): IOAPIC pin gsi (0..23) and PIC IRQ gsi (0..15);
/// - PIT counter 0 OUT: PIC IRQ0 and IOAPIC pin 0, polled by vCPU 0's poll_timers();
/// - PIC INTR: vCPU 0's LINT0 (taken when LINT0 is ExtINT, or while its APIC is disabled);
/// - local APIC EOIs of level-triggered vectors: broadcast to the IOAPIC.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "emu/irqchip/apic_bus.h"
#include "emu/irqchip/cpu_interrupts.h"
#include "emu/irqchip/guest_clock.h"
#include "emu/irqchip/ioapic.h"
#include "emu/irqchip/pic.h"
#include "emu/irqchip/pit.h"
#include "emu/irqchip/vcpu_interrupts.h"
#include "hv/msi.h"

namespace popek::emu {

class InterruptPlatform {
public:
    /// xAPIC IDs are 8 bits and 0xff is the broadcast ID.
    static constexpr int kMaxVcpus = 255;
    /// The ISA timer IRQ0 (PIT channel 0) arrives on IOAPIC pin 2, as on PCs and QEMU; the MADT
    /// of an engine VM says so with an IRQ0 -> GSI 2 interrupt source override (vmm/machine.cpp
    /// reads this constant, so the two cannot disagree again: when they did, Linux's check_timer
    /// programmed pin 2, got no tick there and fell back to ExtINT after ~1.3 s of boot).
    static constexpr unsigned kPitGsi = 2;

    /// `vcpus` is clamped to 1..kMaxVcpus.
    explicit InterruptPlatform(int vcpus, uint64_t tsc_hz);
    /// Same on an injected clock (tests).
    InterruptPlatform(int vcpus, uint64_t tsc_hz, NowFn now);

    int vcpu_count() const { return static_cast<int>(m_cpus.size()); }
    /// vCPU `index` (0..vcpu_count()-1; std::out_of_range otherwise: a VMM bug, not a guest's).
    CpuInterrupts& cpu(int index);
    /// The guest TSC (RDTSC, IA32_TSC writes) shared by every vCPU and timer.
    GuestClock& clock() { return m_clock; }

    /// Drives GSI `gsi` (true = asserted). Callable from any thread; other GSIs are ignored.
    void set_irq_line(uint32_t gsi, bool level);

    /// A fixed, edge-triggered `vector` to vCPU `vcpu`'s local APIC (hv::Vm::inject_vector).
    /// Returns false for a vCPU that does not exist.
    bool inject_vector(int vcpu, uint8_t vector);
    /// A message-signalled interrupt: the MSI address (0xfeeXXXXX: destination ID bits 19:12,
    /// destination mode bit 2) and data (vector, delivery mode, trigger mode) words of the PCI
    /// spec / SDM Vol. 3A 10.11. Returns false when the address is not in the MSI window.
    bool deliver_msi(uint64_t address, uint32_t data);
    /// A device's MSI (hv::Vm::signal_msi): through the interrupt remapper when one is set and
    /// `remap`, then deliver_msi. False when what is left is not in the MSI window.
    bool deliver_device_msi(uint32_t requester, const hv::MsiMessage& msi, bool remap);
    /// Puts `remapper` (not owned) before the APIC bus for the IOAPIC and device MSIs; null: none.
    void set_interrupt_remapper(hv::InterruptRemapper* remapper);

    /// Port I/O and MMIO the engine handles itself: PIC 0x20-0x21, 0xa0-0xa1, ELCR 0x4d0-0x4d1,
    /// PIT 0x40-0x43, port 0x61, IOAPIC MMIO 0xfec00000-0xfec00fff. False when the first byte's
    /// address is not theirs (then the access goes to the VMM's bus).
    bool pio_read(uint16_t port, std::span<uint8_t> data);
    bool pio_write(uint16_t port, std::span<const uint8_t> data);
    bool mmio_read(uint64_t gpa, std::span<uint8_t> data);
    bool mmio_write(uint64_t gpa, std::span<const uint8_t> data);

    /// The parts, for tests and diagnostics.
    LocalApic& local_apic(int index);
    IoApic& ioapic() { return m_ioapic; }
    PicPair& pic() { return m_pic; }
    Pit& pit() { return m_pit; }

private:
    void pit_irq0_edge();
    static bool in_ioapic(uint64_t gpa) { return gpa >= IoApic::kBase && gpa - IoApic::kBase < IoApic::kSize; }

    GuestClock m_clock;
    ApicBus m_bus;
    IoApic m_ioapic;
    PicPair m_pic;
    Pit m_pit;
    std::vector<std::unique_ptr<VcpuInterrupts>> m_cpus;
    std::atomic<hv::InterruptRemapper*> m_remapper{nullptr};
};

}  // namespace popek::emu
