#pragma once
/// One local APIC in xAPIC or x2APIC mode (SDM Vol. 3A chapter 10): the register page (10.4.1, Table 10-1),
/// interrupt acceptance and priorities (10.8: IRR/ISR/TMR, TPR/PPR/APR, EOI), IPIs through the ICR
/// (10.6), the LVT (10.5.1) with its timer (10.5.4) and error register (10.5.3), INIT/SIPI/NMI, and
/// the PIC's INTR arriving on LINT0 as ExtINT (10.5.1, virtual-wire mode), and x2APIC mode (10.12:
/// the registers as MSRs 0x800-0x8ff, 32-bit IDs, logical IDs derived from the APIC ID).
///
/// Thread safety: its own vCPU thread calls everything; other vCPUs, the IOAPIC and device
/// threads call accept() and set_extint_line(). A mutex guards the registers; the "something is
/// deliverable" answer is kept in an atomic so the check between guest instructions is one load.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

#include "emu/irqchip/apic_message.h"
#include "emu/irqchip/cpu_interrupts.h"
#include "emu/irqchip/apic_timer.h"
#include "emu/irqchip/apic_vector_set.h"
#include "emu/irqchip/guest_clock.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

/// Register offsets in the xAPIC page (SDM Vol. 3A Table 10-1).
namespace apic_reg {
inline constexpr uint32_t kId = 0x20, kVersion = 0x30, kTpr = 0x80, kApr = 0x90, kPpr = 0xa0,
                          kEoi = 0xb0, kRrd = 0xc0, kLdr = 0xd0, kDfr = 0xe0, kSvr = 0xf0,
                          kIsr = 0x100, kTmr = 0x180, kIrr = 0x200, kEsr = 0x280, kIcrLow = 0x300,
                          kIcrHigh = 0x310, kLvtTimer = 0x320, kLvtThermal = 0x330, kLvtPerf = 0x340,
                          kLvtLint0 = 0x350, kLvtLint1 = 0x360, kLvtError = 0x370, kTimerInitial = 0x380,
                          kTimerCurrent = 0x390, kTimerDivide = 0x3e0;
/// SELF IPI: x2APIC mode only (MSR 0x83f, SDM Vol. 3A 10.12.11).
inline constexpr uint32_t kSelfIpi = 0x3f0;
/// ICR[31:0] bits software writes: vector, delivery and destination mode, level, trigger mode,
/// shorthand (10.6.1, Figure 10-12); delivery status reads 0 (delivery is instantaneous).
inline constexpr uint32_t kIcrLowWritable = 0x000ccfff;
}

/// ESR bits (SDM Vol. 3A Figure 10-9).
namespace apic_esr {
inline constexpr uint32_t kSendIllegalVector = 1u << 5, kReceiveIllegalVector = 1u << 6,
                          kIllegalRegister = 1u << 7;
}

/// LVT entries (SDM Vol. 3A Figure 10-8), indexed in the order of their offsets 0x320..0x370.
namespace apic_lvt {
inline constexpr uint32_t kMasked = 1u << 16;
inline constexpr unsigned kTimer = 0, kThermal = 1, kPerf = 2, kLint0 = 3, kLint1 = 4, kError = 5;
}

inline constexpr uint32_t kMsrTscDeadline = 0x6e0;
/// IA32_APIC_BASE bits (SDM Vol. 3A 10.4.4, Figure 10-5).
inline constexpr uint64_t kApicBaseBsp = 1u << 8, kApicBaseExtd = 1u << 10, kApicBaseEnable = 1u << 11;
/// The x2APIC registers' MSRs (SDM Vol. 3A 10.12.1.2, Table 10-6): MSR 0x800 + offset / 16.
inline constexpr uint32_t kMsrX2apicFirst = 0x800, kMsrX2apicLast = 0x8ff;

/// May IA32_APIC_BASE go from `from` to `to`? Not to EXTD without EN, nor from x2APIC mode
/// straight to xAPIC mode, nor from disabled straight to x2APIC mode (SDM Vol. 3A 10.12.5,
/// Figure 10-27): those writes are #GP.
constexpr bool apic_base_transition_valid(uint64_t from, uint64_t to) {
    constexpr uint64_t mode = kApicBaseEnable | kApicBaseExtd;
    uint64_t a = from & mode, b = to & mode;
    if (b == kApicBaseExtd) return false;
    if (a == mode && b == kApicBaseEnable) return false;
    if (a == 0 && b == mode) return false;
    return true;
}
inline constexpr uint64_t kDefaultApicBase = 0xfee00000;
/// The frequency the APIC timer counts at before the divider (like KVM: 1 GHz). A CPUID leaf
/// 0x15 should report it as the core crystal clock, Linux then skips timer calibration.
inline constexpr uint64_t kApicTimerHz = 1'000'000'000;

class LocalApic {
public:
    /// What INTA found: an APIC vector (now in service), the PIC's turn (ExtINT), or nothing.
    struct Ack {
        enum class Kind { None, Vector, ExtInt } kind = Kind::None;
        uint8_t vector = 0;
    };

    /// `wake` is called (from any thread) when something became pending for this vCPU.
    LocalApic(int index, const GuestClock& clock, ApicBusSink& bus, std::function<void()> wake);

    int index() const { return m_index; }
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

    // --- the vCPU's side ------------------------------------------------------------------------
    /// Fast path between instructions: an interrupt (APIC above PPR, or ExtINT) can be taken.
    bool interrupt_pending() const { return m_deliverable.load(std::memory_order_relaxed); }
    Ack acknowledge();
    bool take_nmi();
    /// Consumes a pending INIT and resets the APIC to its INIT state (10.4.7.3).
    bool take_init();
    /// The SIPI vector, once any INIT before it was taken.
    std::optional<uint8_t> take_sipi();
    /// An event of `wake` is waiting: INIT or SIPI, an NMI, a deliverable interrupt (what ends a wait()).
    bool event_pending(WakeOn wake) const;
    /// Fires the timer if due at `now_ns`; returns its next deadline (ApicTimer::kNever: none).
    uint64_t poll_timer(uint64_t now_ns);
    uint64_t timer_deadline() const { return m_timer_deadline.load(std::memory_order_relaxed); }

    void mmio_read(uint32_t offset, std::span<uint8_t> data);
    void mmio_write(uint32_t offset, std::span<const uint8_t> data);
    bool read_msr(uint32_t msr, uint64_t& value);
    bool write_msr(uint32_t msr, uint64_t value);
    /// Sends what an ICR with `icr_low` and physical destination `apic_id` (x2APIC's 32 bits)
    /// sends, without touching the ICR (KVM_HC_SEND_IPI). Returns how many APICs took it.
    unsigned send_physical(uint32_t apic_id, uint32_t icr_low);
    void set_cr8(uint64_t value);
    uint64_t cr8();

    // --- the APIC bus's side (any thread) -------------------------------------------------------
    /// Does this APIC belong to the message's destination (physical ID or logical, SDM 10.6.2;
    /// in x2APIC mode 10.12.9 and 10.12.10.2)?
    bool matches(const ApicMessage& message);
    /// Hardware-enabled and software-enabled (can take fixed and lowest-priority interrupts).
    bool enabled();
    /// Accepts a message already routed here. False: dropped (hardware-disabled; a fixed
    /// interrupt while software-disabled or with an illegal vector; SMI, ExtINT).
    bool accept(const ApicMessage& message);
    /// The PIC pair's INTR output (wired to the BSP's LINT0).
    void set_extint_line(bool level);

private:
    struct Deferred {
        std::optional<ApicMessage> ipi;
        std::optional<uint8_t> eoi_vector;
    };

    /// `reset_id`: also the APIC ID (hardware disable and enable; INIT keeps it, 10.4.7.3).
    void reset_registers(bool reset_id);
    bool read_x2apic(uint32_t msr, uint64_t& value, uint64_t now_ns);
    bool write_x2apic(uint32_t msr, uint64_t value, uint64_t now_ns, Deferred& deferred);
    ApicMessage message_from_icr(uint32_t icr_low, uint32_t destination, bool x2apic) const;
    std::optional<uint32_t> read_register(uint32_t offset, uint64_t now_ns);
    void write_register(uint32_t offset, uint32_t value, uint64_t now_ns, Deferred& deferred);
    void write_lvt(unsigned index, uint32_t value, uint64_t now_ns);
    void write_svr(uint32_t value);
    void send_icr(Deferred& deferred);
    void eoi(Deferred& deferred);
    void run_deferred(const Deferred& deferred);
    bool accept_fixed(uint8_t vector, bool level_triggered);
    void raise_lvt(unsigned index);
    void signal_error(uint32_t esr_bits);
    uint32_t ppr() const;
    uint32_t apr() const;
    bool hardware_enabled() const { return (m_apic_base & kApicBaseEnable) != 0; }
    bool x2apic_mode() const { return (m_apic_base & kApicBaseExtd) != 0; }
    /// x2APIC logical ID: cluster (ID[19:4]) in bits 31:16, bit ID[3:0] set in 15:0 (10.12.10.2).
    uint32_t x2apic_ldr() const {
        uint32_t id = static_cast<uint32_t>(m_index);
        return ((id >> 4) << 16) | (1u << (id & 0xf));
    }
    bool software_enabled() const { return (m_svr & 0x100) != 0; }
    bool accepts_extint() const;
    void update_deliverable();
    void wake() const;

    const int m_index;
    const GuestClock& m_clock;
    ApicBusSink& m_bus;
    std::function<void()> m_wake;

    mutable std::mutex m_mutex;
    uint64_t m_apic_base;
    uint32_t m_id;
    uint32_t m_tpr = 0, m_ldr = 0, m_dfr = 0, m_svr = 0;
    uint32_t m_esr = 0, m_esr_pending = 0;
    uint32_t m_icr_low = 0, m_icr_high = 0;
    /// timer, thermal, perf, LINT0, LINT1, error (the order of their offsets).
    std::array<uint32_t, 6> m_lvt{};
    ApicVectorSet m_irr, m_isr, m_tmr;
    ApicTimer m_timer;
    bool m_extint_line = false;

    std::atomic<bool> m_deliverable{false};
    /// NMIs received and not yet taken (bits 1:0) and kNmiInService. At most 2 while no NMI
    /// handler runs (one to take now, one held for after its IRET), at most 1 while one does
    /// (SDM Vol. 3A 6.7.1; KVM's limits; kvm-unit-tests apic "multiple nmi" and "pending nmi").
    /// The core calls take_nmi() only when it can take an NMI (not blocked), which is how this
    /// APIC learns that the last handler's IRET has run.
    static constexpr uint8_t kNmiInService = 0x10;
    std::atomic<uint8_t> m_nmi{0};
    std::atomic<bool> m_init{false};
    std::atomic<bool> m_wait_for_sipi;
    std::atomic<int> m_sipi{-1};
    std::atomic<uint64_t> m_timer_deadline{ApicTimer::kNever};
};

}  // namespace popek::emu
