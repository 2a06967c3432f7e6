// src/emu/irqchip/cpu_interrupts.h
#pragma once
/// What one vCPU of the own engine sees of the VM's interrupt controllers (local APIC, PIC via
/// LINT0/ExtINT, NMI, INIT/SIPI) and timers. Implemented in src/emu/irqchip/, used by the CPU core.
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>

namespace popek::emu {

/// IA32_APIC_BASE (SDM Vol. 4 table 2-2), shared by the CPU core and the local APIC.
inline constexpr uint32_t kMsrApicBase = 0x1b;

/// What can end a sleeping vCPU's wait. A core halted with RFLAGS.IF=0 is not resumed by a
/// maskable interrupt (SDM Vol. 2A HLT), and one in the wait-for-SIPI state answers only INIT
/// and SIPI (Vol. 3A 10.4.7.3): the other events stay pending and must not end the wait, or the
/// vCPU thread would spin at 100% CPU until they can be taken.
enum class WakeOn : uint8_t {
    AnyEvent,      ///< HLT with IF=1: interrupt, NMI, INIT, SIPI
    Maskable,      ///< HLT with IF=1 while NMIs are blocked (until IRET): interrupt, INIT, SIPI
    NonMaskable,   ///< HLT with IF=0: NMI, INIT, SIPI
    Startup,       ///< waiting for SIPI: INIT, SIPI
};

class CpuInterrupts {
public:
    virtual ~CpuInterrupts() = default;
    /// An external interrupt is ready to be taken (RFLAGS.IF and interrupt shadow are the core's
    /// business, TPR/PPR masking is this object's).
    virtual bool interrupt_pending() = 0;
    /// INTA: the vector of the highest-priority pending interrupt, now in service; nullopt if it vanished.
    virtual std::optional<uint8_t> acknowledge_interrupt() = 0;
    virtual bool take_nmi() = 0;
    /// INIT received (the core resets itself to the INIT state and waits for SIPI).
    virtual bool take_init() = 0;
    /// Startup IPI vector (the AP starts in real mode at vector << 12).
    virtual std::optional<uint8_t> take_sipi() = 0;
    /// Fires every timer due at `now_ns` (steady clock); returns the next deadline (UINT64_MAX: none).
    virtual uint64_t poll_timers(uint64_t now_ns) = 0;
    /// Blocks the calling vCPU thread until an event of `wake` is pending, `deadline_ns` passes,
    /// or kick().
    virtual void wait(uint64_t deadline_ns, WakeOn wake) = 0;
    /// Wakes wait(); callable from any thread (used for request_stop and cross-CPU events).
    virtual void kick() = 0;
    /// The core's attention flag (Cpu::attention), raised whenever an interrupt, NMI, INIT or SIPI
    /// becomes pending here, so a running core takes it at its next instruction boundary rather
    /// than at its next periodic poll (an I/O APIC unmask, an IPI from another vCPU). nullptr
    /// detaches it. Callable from any thread.
    virtual void set_attention(std::atomic<bool>* flag) { (void)flag; }
    /// The local APIC's 4 KiB register page (xAPIC MMIO, SDM Vol. 3A 10.4.1), at the APIC base.
    virtual void apic_read(uint32_t offset, std::span<uint8_t> data) = 0;
    virtual void apic_write(uint32_t offset, std::span<const uint8_t> data) = 0;
    /// APIC-related MSRs (IA32_APIC_BASE 0x1b, IA32_TSC_DEADLINE 0x6e0, x2APIC 0x800-0x8ff).
    /// false: not an MSR of this object, or an x2APIC access that is #GP (the core raises #GP
    /// or handles it).
    virtual bool read_msr(uint32_t msr, uint64_t& value) = 0;
    virtual bool write_msr(uint32_t msr, uint64_t value) = 0;
    /// Sends an IPI as an ICR with `icr_low` and the physical x2APIC destination `apic_id` would,
    /// without touching the ICR (KVM_HC_SEND_IPI). Returns how many local APICs took it.
    virtual unsigned send_physical_ipi(uint32_t apic_id, uint32_t icr_low) {
        (void)apic_id;
        (void)icr_low;
        return 0;
    }
    /// CR8 <-> TPR[7:4] (SDM Vol. 3A 10.8.6.1).
    virtual void set_cr8(uint64_t value) = 0;
    virtual uint64_t cr8() = 0;
};

}  // namespace popek::emu
