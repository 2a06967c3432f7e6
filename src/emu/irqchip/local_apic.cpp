#include "emu/irqchip/local_apic.h"

#include <algorithm>

namespace popek::emu {

LocalApic::LocalApic(int index, const GuestClock& clock, ApicBusSink& bus, std::function<void()> wake)
    : m_index(index),
      m_clock(clock),
      m_bus(bus),
      m_wake(std::move(wake)),
      m_apic_base(kDefaultApicBase | kApicBaseEnable | (index == 0 ? kApicBaseBsp : 0)),
      m_id(0),
      m_timer(clock, kApicTimerHz),
      m_wait_for_sipi(index != 0) {
    std::lock_guard lock(m_mutex);
    reset_registers(true);
}

void LocalApic::reset_registers(bool reset_id) {
    if (reset_id) m_id = static_cast<uint32_t>(m_index) << 24;
    m_tpr = 0;
    m_ldr = 0;
    m_dfr = 0xffffffff;
    m_svr = 0xff;
    m_esr = m_esr_pending = 0;
    m_icr_low = m_icr_high = 0;
    m_lvt.fill(apic_lvt::kMasked);
    m_irr.clear_all();
    m_isr.clear_all();
    m_tmr.clear_all();
    m_timer.reset();
    m_timer_deadline.store(ApicTimer::kNever, std::memory_order_relaxed);
    update_deliverable();
}

void LocalApic::wake() const {
    if (m_wake) m_wake();
}

// --- priorities (SDM Vol. 3A 10.8.3.1) -----------------------------------------------------------

uint32_t LocalApic::ppr() const {
    uint32_t isrv = m_isr.highest().value_or(0);
    return (m_tpr >> 4) >= (isrv >> 4) ? m_tpr : (isrv & 0xf0);
}

uint32_t LocalApic::apr() const {
    uint32_t isrv = m_isr.highest().value_or(0), irrv = m_irr.highest().value_or(0);
    uint32_t tpr_class = m_tpr >> 4;
    if (tpr_class >= (irrv >> 4) && tpr_class > (isrv >> 4)) return m_tpr;
    return std::max(tpr_class & (isrv >> 4), irrv >> 4) << 4;
}

bool LocalApic::accepts_extint() const {
    if (!hardware_enabled() || !software_enabled()) return true;  // reset state: INTR reaches the core
    uint32_t lint0 = m_lvt[apic_lvt::kLint0];
    return (lint0 & apic_lvt::kMasked) == 0 && ((lint0 >> 8) & 7) == static_cast<uint32_t>(DeliveryMode::ExtInt);
}

void LocalApic::update_deliverable() {
    bool deliverable = m_extint_line && accepts_extint();
    if (!deliverable && hardware_enabled()) {
        auto irrv = m_irr.highest();
        deliverable = irrv && (*irrv & 0xf0) > (ppr() & 0xf0);
    }
    m_deliverable.store(deliverable, std::memory_order_relaxed);
}

// --- the vCPU's side ------------------------------------------------------------------------------

LocalApic::Ack LocalApic::acknowledge() {
    std::lock_guard lock(m_mutex);
    if (m_extint_line && accepts_extint()) return {Ack::Kind::ExtInt, 0};
    auto irrv = m_irr.highest();
    if (!hardware_enabled() || !irrv || (*irrv & 0xf0) <= (ppr() & 0xf0)) {
        update_deliverable();
        return {};
    }
    m_irr.clear(*irrv);
    m_isr.set(*irrv);
    update_deliverable();
    return {Ack::Kind::Vector, *irrv};
}

bool LocalApic::take_nmi() {
    // Called when the core can take an NMI: no handler runs any more. Take one if there is one.
    uint8_t v = m_nmi.load(std::memory_order_relaxed);
    for (;;) {
        if (v == 0) return false;
        uint8_t count = v & 3;
        uint8_t next = count ? static_cast<uint8_t>((count - 1) | kNmiInService) : 0;
        if (m_nmi.compare_exchange_weak(v, next)) return count != 0;
    }
}

bool LocalApic::take_init() {
    if (!m_init.load(std::memory_order_relaxed)) return false;
    // Under the lock accept() holds while it decides on a SIPI: the INIT flag goes and the wait
    // for SIPI begins in one step, so a SIPI right behind the INIT always finds one of the two.
    std::lock_guard lock(m_mutex);
    if (!m_init.exchange(false)) return false;
    reset_registers(false);
    m_wait_for_sipi.store(true);  // a SIPI that came after the INIT stays pending
    return true;
}

std::optional<uint8_t> LocalApic::take_sipi() {
    if (m_sipi.load(std::memory_order_relaxed) < 0) return std::nullopt;
    if (m_init.load()) return std::nullopt;  // the INIT before it must be taken first
    int vector = m_sipi.exchange(-1);
    if (vector < 0) return std::nullopt;
    m_wait_for_sipi.store(false);
    return static_cast<uint8_t>(vector);
}

bool LocalApic::event_pending(WakeOn wake) const {
    if (m_init.load(std::memory_order_relaxed) || m_sipi.load(std::memory_order_relaxed) >= 0) return true;
    if (wake == WakeOn::Startup) return false;
    if (wake != WakeOn::Maskable && (m_nmi.load(std::memory_order_relaxed) & 3) != 0) return true;
    return (wake == WakeOn::AnyEvent || wake == WakeOn::Maskable) && interrupt_pending();
}

uint64_t LocalApic::poll_timer(uint64_t now_ns) {
    uint64_t deadline = m_timer_deadline.load(std::memory_order_relaxed);
    if (now_ns < deadline) return deadline;
    std::lock_guard lock(m_mutex);
    if (m_timer.poll(now_ns)) raise_lvt(apic_lvt::kTimer);
    m_timer_deadline.store(m_timer.deadline_ns(), std::memory_order_relaxed);
    return m_timer.deadline_ns();
}

void LocalApic::set_cr8(uint64_t value) {
    std::lock_guard lock(m_mutex);
    m_tpr = static_cast<uint32_t>(value & 0xf) << 4;
    update_deliverable();
}

uint64_t LocalApic::cr8() {
    std::lock_guard lock(m_mutex);
    return m_tpr >> 4;
}

bool LocalApic::read_msr(uint32_t msr, uint64_t& value) {
    uint64_t now = m_clock.now_ns();
    std::lock_guard lock(m_mutex);
    if (msr == kMsrApicBase) {
        value = m_apic_base;
        return true;
    }
    if (msr == kMsrTscDeadline) {
        value = m_timer.tsc_deadline();
        return true;
    }
    if (msr >= kMsrX2apicFirst && msr <= kMsrX2apicLast) return read_x2apic(msr, value, now);
    return false;
}

bool LocalApic::write_msr(uint32_t msr, uint64_t value) {
    uint64_t now = m_clock.now_ns();
    Deferred deferred;
    bool done = false;
    {
        std::lock_guard lock(m_mutex);
        if (msr == kMsrApicBase) {
            // Base (bits 12..51), EXTD and global enable are writable; BSP is fixed. The core
            // refused the transitions of apic_base_transition_valid with #GP; refuse them here too.
            if (!apic_base_transition_valid(m_apic_base, value)) return false;
            uint64_t next = (value & 0x000ffffffffff000ull) | (value & (kApicBaseEnable | kApicBaseExtd)) |
                            (m_apic_base & kApicBaseBsp);
            bool enable_changed = ((next ^ m_apic_base) & kApicBaseEnable) != 0;
            m_apic_base = next;
            if (enable_changed) reset_registers(true);  // disabled: as if absent; re-enabled: power-up state
            return true;
        }
        if (msr == kMsrTscDeadline) {
            if (hardware_enabled()) m_timer.set_tsc_deadline(value);
            m_timer_deadline.store(m_timer.deadline_ns(), std::memory_order_relaxed);
            return true;
        }
        if (msr >= kMsrX2apicFirst && msr <= kMsrX2apicLast) done = write_x2apic(msr, value, now, deferred);
    }
    run_deferred(deferred);
    return done;
}

unsigned LocalApic::send_physical(uint32_t apic_id, uint32_t icr_low) {
    ApicMessage message;
    {
        std::lock_guard lock(m_mutex);
        message = message_from_icr(icr_low, apic_id, true);
    }
    message.logical = false;
    message.shorthand = DestinationShorthand::None;
    if (apic_id == 0xffffffff) return 0;   // a bitmap names APICs one by one: no broadcast
    return m_bus.send(message);
}

// --- the APIC bus's side --------------------------------------------------------------------------

bool LocalApic::matches(const ApicMessage& message) {
    std::lock_guard lock(m_mutex);
    if (!hardware_enabled()) return false;
    uint32_t destination = message.destination;
    // Broadcast, physical and logical (10.6.2.1, 10.6.2.2; x2APIC: 10.12.9).
    if (destination == (message.x2apic ? 0xffffffffu : 0xffu)) return true;
    if (x2apic_mode()) {
        if (!message.logical) return destination == static_cast<uint32_t>(m_index);
        // Logical: cluster in bits 31:16, a member bitmap in 15:0 (10.12.10.2). An 8-bit xAPIC
        // destination (the I/O APIC's, an MSI's) is read the same way, as cluster 0.
        uint32_t ldr = x2apic_ldr();
        return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xffff) != 0;
    }
    if (destination > 0xff) return false;   // an x2APIC ID beyond what an xAPIC can have
    if (!message.logical) return destination == (m_id >> 24);
    uint32_t ldr = m_ldr >> 24;
    if ((m_dfr >> 28) == 0xf) return (ldr & destination) != 0;           // flat model
    return (ldr >> 4) == (destination >> 4u) && (ldr & destination & 0xf) != 0;  // cluster model
}

bool LocalApic::enabled() {
    std::lock_guard lock(m_mutex);
    return hardware_enabled() && software_enabled();
}

bool LocalApic::accept(const ApicMessage& message) {
    std::lock_guard lock(m_mutex);
    if (!hardware_enabled()) return false;
    switch (message.mode) {
    case DeliveryMode::Fixed:
    case DeliveryMode::LowestPriority:
        // A software-disabled APIC drops fixed interrupts (10.4.7.2).
        return software_enabled() && accept_fixed(message.vector, message.level_triggered);
    case DeliveryMode::Nmi:
        for (uint8_t v = m_nmi.load();;) {
            uint8_t limit = (v & kNmiInService) ? 1 : 2;
            if ((v & 3) >= limit || m_nmi.compare_exchange_weak(v, static_cast<uint8_t>(v + 1))) break;
        }
        wake();
        return true;
    case DeliveryMode::Init:
        m_sipi.store(-1);
        m_init.store(true);
        wake();
        return true;
    case DeliveryMode::StartUp:
        // Only a processor waiting for SIPI (or with an INIT not yet taken by its core) takes
        // it; a second SIPI while one is pending, or SIPIs to a running CPU, are ignored
        // (SDM Vol. 3A 8.4.4).
        if (m_wait_for_sipi.load() || m_init.load()) {
            int none = -1;
            if (m_sipi.compare_exchange_strong(none, message.vector)) wake();
        }
        return true;
    case DeliveryMode::Smi:
    case DeliveryMode::Reserved3:
    case DeliveryMode::ExtInt:
        break;  // no SMM; ExtINT only arrives through LINT0 (set_extint_line)
    }
    return false;
}

void LocalApic::set_extint_line(bool level) {
    std::lock_guard lock(m_mutex);
    m_extint_line = level;
    update_deliverable();
    if (level && m_deliverable.load(std::memory_order_relaxed)) wake();
}

bool LocalApic::accept_fixed(uint8_t vector, bool level_triggered) {
    if (vector < 16) {
        signal_error(apic_esr::kReceiveIllegalVector);
        return false;
    }
    m_irr.set(vector);
    if (level_triggered) m_tmr.set(vector);
    else m_tmr.clear(vector);
    update_deliverable();
    wake();
    return true;
}

void LocalApic::raise_lvt(unsigned index) {
    uint32_t lvt = m_lvt[index];
    if ((lvt & apic_lvt::kMasked) == 0) (void)accept_fixed(static_cast<uint8_t>(lvt & 0xff), false);
}

void LocalApic::signal_error(uint32_t esr_bits) {
    uint32_t fresh = esr_bits & ~m_esr_pending;
    m_esr_pending |= esr_bits;
    if (fresh != 0) raise_lvt(apic_lvt::kError);  // an illegal error vector sets a bit already set: stops
}

}  // namespace popek::emu
