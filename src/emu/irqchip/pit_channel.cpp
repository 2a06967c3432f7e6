#include "emu/irqchip/pit_channel.h"

#include <algorithm>

#include "emu/irqchip/guest_clock.h"

namespace popek::emu {

namespace {

bool gate_triggered(uint8_t mode) { return mode == 1 || mode == 5; }
bool periodic(uint8_t mode) { return mode == 2 || mode == 3; }

uint32_t decode_bcd(uint16_t raw) {
    uint32_t value = 0;
    for (int shift = 12; shift >= 0; shift -= 4) value = value * 10 + std::min<uint32_t>((raw >> shift) & 0xf, 9);
    return value;
}

}  // namespace

void PitChannel::write_control(uint8_t control) {
    m_access = (control >> 4) & 3;
    m_mode = (control >> 1) & 7;
    if (m_mode > 5) m_mode = static_cast<uint8_t>(m_mode - 4);  // 110b, 111b alias modes 2, 3
    m_bcd = (control & 1) != 0;
    m_loaded = m_armed = m_paused = false;
    m_write_msb_next = m_read_msb_next = m_latched_msb_next = false;
    m_latched_count.reset();
    m_latched_status.reset();
    m_last_edge = 0;
}

bool PitChannel::counting() const {
    return m_loaded && !m_paused && (!gate_triggered(m_mode) || m_armed);
}

uint64_t PitChannel::elapsed_ticks(uint64_t now_ns) const {
    if (!counting()) return m_ticks_before;
    return m_ticks_before + GuestClock::ticks_in(now_ns > m_start_ns ? now_ns - m_start_ns : 0, kHz);
}

void PitChannel::restart(uint64_t now_ns) {
    m_start_ns = now_ns;
    m_ticks_before = 0;
    m_last_edge = 0;
    m_paused = !m_gate && !gate_triggered(m_mode);
}

void PitChannel::load(uint32_t value, uint64_t now_ns) {
    if (m_bcd) value = decode_bcd(static_cast<uint16_t>(value));
    uint32_t reload = value == 0 ? modulus() : value;
    if (periodic(m_mode)) reload = std::max<uint32_t>(reload, 2);  // N = 1 is illegal there
    m_reload = reload;
    bool was_loaded = m_loaded;
    m_loaded = true;
    // Modes 1 and 5 load the count at the next gate trigger; the others start now.
    if (!gate_triggered(m_mode)) restart(now_ns);
    else if (!was_loaded) m_ticks_before = 0;
}

void PitChannel::set_gate(bool gate, uint64_t now_ns) {
    if (gate == m_gate) return;
    uint64_t elapsed = elapsed_ticks(now_ns);
    m_gate = gate;
    if (!m_loaded) return;
    switch (m_mode) {
    case 0:
    case 4:  // gate low suspends counting
        if (!gate) {
            m_ticks_before = elapsed;
            m_paused = true;
        } else {
            m_start_ns = now_ns;
            m_paused = false;
        }
        break;
    case 2:
    case 3:  // gate low stops (OUT high); the rising edge reloads
        if (!gate) {
            m_ticks_before = elapsed;
            m_paused = true;
        } else {
            restart(now_ns);
        }
        break;
    default:  // 1, 5: the rising edge (re)triggers
        if (gate) {
            m_armed = true;
            restart(now_ns);
        }
        break;
    }
}

bool PitChannel::output(uint64_t now_ns) const {
    if (!m_loaded) return m_mode != 0;
    uint64_t e = elapsed_ticks(now_ns), n = m_reload;
    switch (m_mode) {
    case 0: return e >= n;
    case 1: return !m_armed || e >= n;
    case 2: return m_paused || e % n != n - 1;
    case 3: return m_paused || e % n < (n + 1) / 2;
    case 4: return e != n;
    default: return !m_armed || e != n;
    }
}

uint32_t PitChannel::count(uint64_t now_ns) const {
    uint32_t mod = modulus();
    if (!m_loaded || (gate_triggered(m_mode) && !m_armed)) return m_reload % mod;
    uint64_t e = elapsed_ticks(now_ns), n = m_reload;
    switch (m_mode) {
    case 2: return static_cast<uint32_t>((n - e % n) % mod);
    case 3: {
        uint64_t phase = e % n, high = (n + 1) / 2;
        uint64_t in_half = phase < high ? phase : phase - high;
        uint64_t value = (n & ~uint64_t{1}) - 2 * in_half;
        return static_cast<uint32_t>(std::max<uint64_t>(value, 2) % mod);
    }
    default: return static_cast<uint32_t>((n + mod - e % mod) % mod);
    }
}

uint64_t PitChannel::last_edge_tick(uint64_t ticks) const {
    uint64_t n = m_reload;
    if (periodic(m_mode)) return ticks >= n ? ticks / n * n : 0;
    uint64_t edge = (m_mode == 4 || m_mode == 5) ? n + 1 : n;  // strobe: OUT low for one tick
    return ticks >= edge ? edge : 0;
}

uint64_t PitChannel::next_edge_tick(uint64_t ticks) const {
    uint64_t n = m_reload;
    if (periodic(m_mode)) return (ticks / n + 1) * n;
    uint64_t edge = (m_mode == 4 || m_mode == 5) ? n + 1 : n;
    return ticks < edge ? edge : 0;
}

bool PitChannel::poll_rising_edge(uint64_t now_ns) {
    if (!counting()) return false;
    uint64_t edge = last_edge_tick(elapsed_ticks(now_ns));
    if (edge == 0 || edge == m_last_edge) return false;
    m_last_edge = edge;
    return true;
}

uint64_t PitChannel::next_rising_edge_ns(uint64_t now_ns) const {
    if (!counting()) return kNever;
    uint64_t edge = next_edge_tick(elapsed_ticks(now_ns));
    if (edge == 0) return kNever;
    uint64_t at = m_start_ns + GuestClock::ns_for_ticks(edge - m_ticks_before, kHz);
    if (periodic(m_mode) && GuestClock::ns_for_ticks(m_reload, kHz) < kMinPeriodNs)
        at = std::max(at, now_ns + kMinPeriodNs);
    return at;
}

void PitChannel::latch_count(uint64_t now_ns) {
    if (m_latched_count) return;  // a second latch before the read is ignored
    m_latched_count = encode(count(now_ns));
    m_latched_msb_next = false;
}

void PitChannel::latch_status(uint64_t now_ns) {
    if (m_latched_status) return;
    m_latched_status = static_cast<uint8_t>((output(now_ns) ? 0x80 : 0) | (m_loaded ? 0 : 0x40) |
                                            (m_access << 4) | (m_mode << 1) | (m_bcd ? 1 : 0));
}

uint16_t PitChannel::encode(uint32_t count) const {
    if (!m_bcd) return static_cast<uint16_t>(count);
    count %= 10000;
    return static_cast<uint16_t>((count / 1000) << 12 | (count / 100 % 10) << 8 | (count / 10 % 10) << 4 | count % 10);
}

uint8_t PitChannel::read_data(uint64_t now_ns) {
    if (m_latched_status) {
        uint8_t status = *m_latched_status;
        m_latched_status.reset();
        return status;
    }
    bool from_latch = m_latched_count.has_value();
    uint16_t value = from_latch ? *m_latched_count : encode(count(now_ns));
    bool& msb_next = from_latch ? m_latched_msb_next : m_read_msb_next;
    bool msb;
    if (m_access == 1) msb = false;
    else if (m_access == 2) msb = true;
    else {
        msb = msb_next;
        msb_next = !msb_next;
    }
    if (from_latch && (m_access != 3 || !msb_next)) m_latched_count.reset();  // fully read
    return static_cast<uint8_t>(msb ? value >> 8 : value);
}

void PitChannel::write_data(uint8_t value, uint64_t now_ns) {
    if (m_access == 1) {
        load(value, now_ns);
    } else if (m_access == 2) {
        load(uint32_t{value} << 8, now_ns);
    } else if (!m_write_msb_next) {
        m_write_lsb = value;
        m_write_msb_next = true;
        if (m_mode == 0) m_loaded = false;  // mode 0: the first byte stops the count, OUT low
    } else {
        m_write_msb_next = false;
        load(m_write_lsb | uint32_t{value} << 8, now_ns);
    }
}

}  // namespace popek::emu
