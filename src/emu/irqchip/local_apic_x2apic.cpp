/// x2APIC mode of LocalApic: the registers as MSRs (SDM Vol. 3A 10.12.1.2, Table 10-6).
///
/// MSR 0x800 + n is the xAPIC register at offset n * 16, with these differences: the APIC ID
/// (0x802) is the 32-bit x2APIC ID (the initial APIC ID, read-only), the LDR (0x80d) is derived
/// from it (10.12.10.2, read-only), the ICR is one 64-bit register at 0x830 with the destination
/// in bits 63:32 (10.12.9), SELF IPI (0x83f) is new and write-only; DFR, APR, remote read and
/// ICR high do not exist. #GP (the caller's false) for: any access while not in x2APIC mode, a
/// register that does not exist, a read of a write-only register (EOI, SELF IPI), a write of a
/// read-only one, bits 63:32 set in a 32-bit register, a non-zero write to EOI or ESR, and
/// SELF IPI's reserved bits 31:8.
#include "emu/irqchip/local_apic.h"

namespace popek::emu {

namespace {

uint32_t offset_of(uint32_t msr) { return (msr - kMsrX2apicFirst) << 4; }

bool in_block(uint32_t offset, uint32_t base) { return offset >= base && offset < base + 0x80; }
}  // namespace

bool LocalApic::read_x2apic(uint32_t msr, uint64_t& value, uint64_t now_ns) {
    using namespace apic_reg;
    if (!hardware_enabled() || !x2apic_mode()) return false;
    uint32_t offset = offset_of(msr);
    switch (offset) {
    case kId: value = static_cast<uint32_t>(m_index); return true;
    case kLdr: value = x2apic_ldr(); return true;
    case kIcrLow: value = uint64_t{m_icr_high} << 32 | m_icr_low; return true;
    case kEoi: case kSelfIpi: case kDfr: case kApr: case kRrd: case kIcrHigh: return false;
    default: break;
    }
    auto read = read_register(offset, now_ns);
    if (!read) return false;
    value = *read;
    return true;
}

bool LocalApic::write_x2apic(uint32_t msr, uint64_t value, uint64_t now_ns, Deferred& deferred) {
    using namespace apic_reg;
    if (!hardware_enabled() || !x2apic_mode()) return false;
    uint32_t offset = offset_of(msr);
    if (offset == kIcrLow) {
        m_icr_low = static_cast<uint32_t>(value) & kIcrLowWritable;
        m_icr_high = static_cast<uint32_t>(value >> 32);
        send_icr(deferred);
        return true;
    }
    if (value >> 32) return false;
    uint32_t v = static_cast<uint32_t>(value);
    if (in_block(offset, kIsr) || in_block(offset, kTmr) || in_block(offset, kIrr)) return false;
    switch (offset) {
    case kId: case kVersion: case kLdr: case kPpr: case kTimerCurrent:   // read-only
    case kDfr: case kApr: case kRrd: case kIcrHigh:                      // absent in x2APIC mode
        return false;
    case kEoi:
    case kEsr:
        if (v != 0) return false;
        write_register(offset, v, now_ns, deferred);
        return true;
    case kSelfIpi:   // a fixed, edge-triggered IPI to this APIC; bits 31:8 reserved (10.12.11)
        if (v & ~0xffu) return false;
        if (software_enabled()) (void)accept_fixed(static_cast<uint8_t>(v & 0xff), false);
        return true;
    case kTpr: case kSvr: case kTimerInitial: case kTimerDivide:
        write_register(offset, v, now_ns, deferred);
        return true;
    default:
        if (offset >= kLvtTimer && offset <= kLvtError) {
            write_register(offset, v, now_ns, deferred);
            return true;
        }
        return false;
    }
}

}  // namespace popek::emu
