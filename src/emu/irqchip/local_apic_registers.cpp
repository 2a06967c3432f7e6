/// The xAPIC register page of LocalApic (SDM Vol. 3A 10.4.1, Table 10-1).
///
/// Access rules for a hostile guest: registers are 32 bits wide on 16-byte boundaries. Reads of
/// any size at any offset return the bytes of the 32-bit register at (offset & ~0xf) for bytes 0..3
/// of the slot and 0 for bytes 4..15. Writes take effect only when 4 or 8 bytes wide and 16-byte
/// aligned (the low 4 bytes are used); other writes are ignored. Writes to read-only registers are
/// ignored. Accesses to offsets with no register set ESR bit 7 (illegal register address).
/// While the APIC is hardware-disabled (IA32_APIC_BASE[11] = 0) reads return 0 and writes are ignored.
#include "emu/irqchip/local_apic.h"

namespace popek::emu {

namespace {
/// Writable LVT bits; delivery status and remote IRR always read 0 (delivery is instantaneous).
constexpr std::array<uint32_t, 6> kLvtWritable = {0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff};
/// Version 0x14 (integrated xAPIC), max LVT entry 5: six LVT registers, no CMCI.
constexpr uint32_t kVersionValue = 0x00050014;
constexpr uint32_t kPageSize = 0x1000;

ApicTimerMode timer_mode_of(uint32_t lvt) {
    uint32_t bits = (lvt >> 17) & 3;
    if (bits == 1) return ApicTimerMode::Periodic;
    if (bits == 2) return ApicTimerMode::TscDeadline;
    return ApicTimerMode::OneShot;
}

bool in_block(uint32_t offset, uint32_t base) { return offset >= base && offset < base + 0x80; }
}  // namespace

void LocalApic::mmio_read(uint32_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), uint8_t{0});
    uint64_t now = m_clock.now_ns();
    std::lock_guard lock(m_mutex);
    if (!hardware_enabled() || x2apic_mode()) return;   // x2APIC mode: the page is gone (10.12.1.2)
    uint32_t cached_offset = UINT32_MAX, value = 0;
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t byte_offset = uint64_t{offset} + i;
        if (byte_offset >= kPageSize || (byte_offset & 0xf) >= 4) continue;
        uint32_t reg = static_cast<uint32_t>(byte_offset) & ~0xfu;
        if (reg != cached_offset) {
            cached_offset = reg;
            auto read = read_register(reg, now);
            if (!read) signal_error(apic_esr::kIllegalRegister);
            value = read.value_or(0);
        }
        data[i] = static_cast<uint8_t>(value >> (8 * (byte_offset & 3)));
    }
}

void LocalApic::mmio_write(uint32_t offset, std::span<const uint8_t> data) {
    if ((data.size() != 4 && data.size() != 8) || (offset & 0xf) != 0 || offset >= kPageSize) return;
    uint32_t value = static_cast<uint32_t>(data[0]) | static_cast<uint32_t>(data[1]) << 8 |
                     static_cast<uint32_t>(data[2]) << 16 | static_cast<uint32_t>(data[3]) << 24;
    uint64_t now = m_clock.now_ns();
    Deferred deferred;
    {
        std::lock_guard lock(m_mutex);
        if (!hardware_enabled() || x2apic_mode()) return;
        write_register(offset, value, now, deferred);
    }
    run_deferred(deferred);
}

std::optional<uint32_t> LocalApic::read_register(uint32_t offset, uint64_t now_ns) {
    using namespace apic_reg;
    if (in_block(offset, kIsr)) return m_isr.word((offset - kIsr) / 0x10);
    if (in_block(offset, kTmr)) return m_tmr.word((offset - kTmr) / 0x10);
    if (in_block(offset, kIrr)) return m_irr.word((offset - kIrr) / 0x10);
    if (offset >= kLvtTimer && offset <= kLvtError) return m_lvt[(offset - kLvtTimer) / 0x10];
    switch (offset) {
    case kId: return m_id;
    case kVersion: return kVersionValue;
    case kTpr: return m_tpr;
    case kApr: return apr();
    case kPpr: return ppr();
    case kEoi: return 0;  // write-only
    case kRrd: return 0;  // remote read is not supported (Pentium only)
    case kLdr: return m_ldr;
    case kDfr: return m_dfr;
    case kSvr: return m_svr;
    case kEsr: return m_esr;
    case kIcrLow: return m_icr_low;  // delivery status 0: IPIs are delivered at once
    case kIcrHigh: return m_icr_high;
    case kTimerInitial: return m_timer.initial_count();
    case kTimerCurrent: return m_timer.current_count(now_ns);
    case kTimerDivide: return m_timer.divide_config();
    default: return std::nullopt;
    }
}

void LocalApic::write_register(uint32_t offset, uint32_t value, uint64_t now_ns, Deferred& deferred) {
    using namespace apic_reg;
    if (in_block(offset, kIsr) || in_block(offset, kTmr) || in_block(offset, kIrr)) return;  // read-only
    // A count that reached 0 since the last poll raised its interrupt then: not lost when the
    // guest now restarts or reconfigures the timer.
    if ((offset == kTimerInitial || offset == kLvtTimer || offset == kTimerDivide) && m_timer.poll(now_ns)) {
        raise_lvt(apic_lvt::kTimer);
        m_timer_deadline.store(m_timer.deadline_ns(), std::memory_order_relaxed);
    }
    if (offset >= kLvtTimer && offset <= kLvtError) {
        write_lvt((offset - kLvtTimer) / 0x10, value, now_ns);
        return;
    }
    switch (offset) {
    case kId: m_id = value & 0xff000000; break;
    case kTpr:
        m_tpr = value & 0xff;
        update_deliverable();
        break;
    case kEoi: eoi(deferred); break;
    case kLdr: m_ldr = value & 0xff000000; break;
    case kDfr: m_dfr = (value & 0xf0000000) | 0x0fffffff; break;
    case kSvr: write_svr(value); break;
    case kEsr:  // a write makes the errors collected since the last write readable (10.5.3)
        m_esr = m_esr_pending;
        m_esr_pending = 0;
        break;
    case kIcrHigh: m_icr_high = value & 0xff000000; break;
    case kIcrLow:
        m_icr_low = value & kIcrLowWritable;
        send_icr(deferred);
        break;
    case kTimerInitial:
        m_timer.set_initial_count(value, now_ns);
        m_timer_deadline.store(m_timer.deadline_ns(), std::memory_order_relaxed);
        break;
    case kTimerDivide:
        m_timer.set_divide_config(value, now_ns);
        m_timer_deadline.store(m_timer.deadline_ns(), std::memory_order_relaxed);
        break;
    case kVersion: case kApr: case kPpr: case kRrd: case kTimerCurrent: break;  // read-only
    default: signal_error(apic_esr::kIllegalRegister); break;
    }
}

void LocalApic::write_lvt(unsigned index, uint32_t value, uint64_t now_ns) {
    value &= kLvtWritable[index];
    if (!software_enabled()) value |= apic_lvt::kMasked;  // masks cannot be cleared while disabled (10.4.7.2)
    m_lvt[index] = value;
    if (index == 0) {
        m_timer.set_mode(timer_mode_of(value), now_ns);
        m_timer_deadline.store(m_timer.deadline_ns(), std::memory_order_relaxed);
    }
    update_deliverable();  // LINT0 may have become (or stopped being) the ExtINT path
}

void LocalApic::write_svr(uint32_t value) {
    m_svr = value & 0x3ff;
    if (!software_enabled())
        for (auto& lvt : m_lvt) lvt |= apic_lvt::kMasked;
    update_deliverable();
}

ApicMessage LocalApic::message_from_icr(uint32_t icr_low, uint32_t destination, bool x2apic) const {
    ApicMessage message;
    message.vector = static_cast<uint8_t>(icr_low & 0xff);
    message.mode = static_cast<DeliveryMode>((icr_low >> 8) & 7);
    message.logical = (icr_low & (1u << 11)) != 0;
    message.level_triggered = (icr_low & (1u << 15)) != 0;
    message.shorthand = static_cast<DestinationShorthand>((icr_low >> 18) & 3);
    message.destination = destination;
    message.x2apic = x2apic;
    message.source = m_index;
    return message;
}

void LocalApic::send_icr(Deferred& deferred) {
    // xAPIC: the destination is ICR[63:56]; x2APIC: ICR[63:32] (10.6.1, 10.12.9).
    bool x2 = x2apic_mode();
    ApicMessage message = message_from_icr(m_icr_low, x2 ? m_icr_high : m_icr_high >> 24, x2);
    bool assert_level = (m_icr_low & (1u << 14)) != 0;
    switch (message.mode) {
    case DeliveryMode::Fixed:
    case DeliveryMode::LowestPriority:
        if (message.vector < 16) {
            signal_error(apic_esr::kSendIllegalVector);
            return;
        }
        break;
    case DeliveryMode::Init:
        // INIT level de-assert only resynchronizes arbitration IDs (10.6.1): nothing to deliver.
        if (!assert_level && message.level_triggered) return;
        break;
    case DeliveryMode::Nmi:
    case DeliveryMode::StartUp:
        break;
    case DeliveryMode::Smi:
    case DeliveryMode::Reserved3:
    case DeliveryMode::ExtInt:
        return;  // no SMM; ExtINT is not an IPI
    }
    deferred.ipi = message;
}

void LocalApic::eoi(Deferred& deferred) {
    auto isrv = m_isr.highest();
    if (!isrv) return;
    m_isr.clear(*isrv);
    if (m_tmr.test(*isrv)) deferred.eoi_vector = *isrv;  // level-triggered: tell the IOAPIC (10.8.5)
    update_deliverable();
}

void LocalApic::run_deferred(const Deferred& deferred) {
    if (deferred.ipi) m_bus.send(*deferred.ipi);
    if (deferred.eoi_vector) m_bus.broadcast_eoi(*deferred.eoi_vector);
}

}  // namespace popek::emu
