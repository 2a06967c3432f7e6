// Snapshot state of the own engine's interrupt controllers and timers (docs/snapshot.md
// "LAPC", "IOAP", "PIC ", "PIT "). Times are in the guest clock's base (GuestClock::restore makes
// it go on from the saved time), so timer start times and deadlines are saved as they are.
// Loads range-check what the models index or shift with; the rest is any value a guest could
// have written.
#include "emu/irqchip/apic_timer.h"
#include "emu/irqchip/ioapic.h"
#include "emu/irqchip/local_apic.h"
#include "emu/irqchip/pic.h"
#include "emu/irqchip/pic_chip.h"
#include "emu/irqchip/pit.h"
#include "emu/irqchip/pit_channel.h"
#include "snapshot/snap_codec.h"

namespace popek::emu {

namespace {
void save_set(snapshot::Writer& w, const ApicVectorSet& s) {
    for (unsigned i = 0; i < 8; ++i) w.u32(s.word(i));
}
void load_set(snapshot::Reader& r, ApicVectorSet& s) {
    for (unsigned i = 0; i < 8; ++i) s.set_word(i, r.u32());
}
}  // namespace

/// SDM Vol. 3A 10.5.4: mode, divide configuration, initial count, and when counting started.
void ApicTimer::save(snapshot::Writer& w) {
    w.u8(static_cast<uint8_t>(m_mode));
    w.u32(m_divide_config);
    w.u32(m_initial);
    w.u64(m_start_ns);
    w.boolean(m_one_shot_expired);
    w.u64(m_tsc_deadline);
    w.u64(m_deadline_ns);
}

void ApicTimer::load(snapshot::Reader& r) {
    m_mode = static_cast<ApicTimerMode>(r.bounded<uint8_t>(r.u8(), 2, "the APIC timer mode"));
    m_divide_config = r.u32() & 0xb;   // bits 0, 1, 3 (10.5.4)
    m_initial = r.u32();
    m_start_ns = r.u64();
    m_one_shot_expired = r.boolean();
    m_tsc_deadline = r.u64();
    m_deadline_ns = r.u64();
}

/// SDM Vol. 3A 10.4-10.6, 10.8: the register page, IRR/ISR/TMR, pending NMI/INIT/SIPI.
void LocalApic::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    w.u64(m_apic_base);
    w.u32(m_id);
    for (uint32_t v : {m_tpr, m_ldr, m_dfr, m_svr, m_esr, m_esr_pending, m_icr_low, m_icr_high}) w.u32(v);
    for (uint32_t v : m_lvt) w.u32(v);
    save_set(w, m_irr);
    save_set(w, m_isr);
    save_set(w, m_tmr);
    m_timer.save(w);
    w.boolean(m_extint_line);
    w.u8(m_nmi.load());
    w.boolean(m_init.load());
    w.boolean(m_wait_for_sipi.load());
    w.u32(static_cast<uint32_t>(m_sipi.load()));
    w.u64(m_timer_deadline.load());
}

void LocalApic::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    m_apic_base = r.u64();
    if ((m_apic_base & (kApicBaseEnable | kApicBaseExtd)) == kApicBaseExtd) r.invalid("IA32_APIC_BASE {:#x} is x2APIC without enable", m_apic_base);
    m_id = r.u32();
    for (uint32_t* v : {&m_tpr, &m_ldr, &m_dfr, &m_svr, &m_esr, &m_esr_pending, &m_icr_low, &m_icr_high}) *v = r.u32();
    m_tpr &= 0xff;
    for (uint32_t& v : m_lvt) v = r.u32();
    load_set(r, m_irr);
    load_set(r, m_isr);
    load_set(r, m_tmr);
    m_timer.load(r);
    m_extint_line = r.boolean();
    m_nmi.store(r.u8());
    m_init.store(r.boolean());
    m_wait_for_sipi.store(r.boolean());
    const auto sipi = static_cast<int32_t>(r.u32());
    if (sipi < -1 || sipi > 0xff) r.invalid("a pending SIPI vector is {}", sipi);
    m_sipi.store(sipi);
    m_timer_deadline.store(r.u64());
    update_deliverable();
}

/// 82093AA datasheet 3.2: the select register, ID, redirection table; and the asserted pins.
void IoApic::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    w.u8(m_select);
    w.u32(m_id);
    w.u32(m_lines);
    for (uint64_t e : m_entries) w.u64(e);
}

void IoApic::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    m_select = r.u8();
    m_id = r.u32();
    m_lines = r.u32() & ((1u << kPins) - 1);
    for (uint64_t& e : m_entries) e = r.u64();
}

/// 8259A datasheet: IRR/ISR/IMR, the initialization sequence position and the OCW3 modes.
void PicChip::save(snapshot::Writer& w) {
    for (uint8_t v : {m_irr, m_isr, m_imr, m_line, m_elcr, m_vector_base, m_lowest_priority_plus1}) w.u8(v);
    w.u8(static_cast<uint8_t>(m_init));
    for (bool b : {m_master, m_single, m_needs_icw4, m_auto_eoi, m_rotate_on_auto_eoi, m_special_fully_nested,
                   m_read_isr, m_poll, m_special_mask})
        w.boolean(b);
}

void PicChip::load(snapshot::Reader& r) {
    for (uint8_t* v : {&m_irr, &m_isr, &m_imr, &m_line, &m_elcr, &m_vector_base, &m_lowest_priority_plus1}) *v = r.u8();
    m_elcr &= m_elcr_writable;
    m_vector_base &= 0xf8;
    m_lowest_priority_plus1 &= 7;
    m_init = static_cast<InitStep>(r.bounded<uint8_t>(r.u8(), 3, "the PIC initialization step"));
    for (bool* b : {&m_master, &m_single, &m_needs_icw4, &m_auto_eoi, &m_rotate_on_auto_eoi, &m_special_fully_nested,
                    &m_read_isr, &m_poll, &m_special_mask})
        *b = r.boolean();
}

void PicPair::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    m_master.save(w);
    m_slave.save(w);
    w.boolean(m_output);
}

void PicPair::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    m_master.load(r);
    m_slave.load(r);
    m_output = r.boolean();
}

/// 8254 datasheet: control word, counts written and latched, and where counting stands.
void PitChannel::save(snapshot::Writer& w) {
    w.u8(m_mode);
    w.u8(m_access);
    w.boolean(m_bcd);
    w.u32(m_reload);
    for (bool b : {m_loaded, m_armed, m_gate, m_paused}) w.boolean(b);
    w.u64(m_start_ns);
    w.u64(m_ticks_before);
    w.u64(m_last_edge);
    w.boolean(m_write_msb_next);
    w.u8(m_write_lsb);
    w.boolean(m_read_msb_next);
    w.boolean(m_latched_count.has_value());
    w.u16(m_latched_count.value_or(0));
    w.boolean(m_latched_msb_next);
    w.boolean(m_latched_status.has_value());
    w.u8(m_latched_status.value_or(0));
}

void PitChannel::load(snapshot::Reader& r) {
    m_mode = r.bounded<uint8_t>(r.u8(), 5, "a PIT channel's mode");
    m_access = r.u8();
    if (m_access < 1 || m_access > 3) r.invalid("a PIT channel's access mode is {}", m_access);
    m_bcd = r.boolean();
    m_reload = r.u32();
    if (m_reload < 1 || m_reload > 65536) r.invalid("a PIT channel's count is {}", m_reload);
    for (bool* b : {&m_loaded, &m_armed, &m_gate, &m_paused}) *b = r.boolean();
    m_start_ns = r.u64();
    m_ticks_before = r.u64();
    m_last_edge = r.u64();
    m_write_msb_next = r.boolean();
    m_write_lsb = r.u8();
    m_read_msb_next = r.boolean();
    const bool has_count = r.boolean();
    const uint16_t count = r.u16();
    m_latched_count = has_count ? std::optional<uint16_t>(count) : std::nullopt;
    m_latched_msb_next = r.boolean();
    const bool has_status = r.boolean();
    const uint8_t status = r.u8();
    m_latched_status = has_status ? std::optional<uint8_t>(status) : std::nullopt;
}

void Pit::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    for (PitChannel& c : m_channels) c.save(w);
    w.u8(m_port_b);
    w.u64(m_deadline.load());
}

void Pit::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    for (PitChannel& c : m_channels) c.load(r);
    m_port_b = r.u8() & 0xf;
    m_deadline.store(r.u64());
}

}  // namespace popek::emu
