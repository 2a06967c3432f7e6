#pragma once
/// One counter of the Intel 8254 programmable interval timer (8254 datasheet): modes 0-5, binary
/// or BCD counting, LSB/MSB/LSB-then-MSB access, counter latch, status latch (read-back), gate
/// input, and the OUT pin, all computed from elapsed time at 1.193182 MHz rather than ticked.
/// Pure logic, no locking: Pit serializes it.
///
/// Simplifications: a count written in modes 2 and 3 takes effect at once rather than at the end
/// of the current period; mode 3 with an odd count reads even values (N-1, N-3, ...).
#include <cstdint>
#include <optional>

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

class PitChannel {
public:
    static constexpr uint64_t kHz = 1'193'182;
    static constexpr uint64_t kNever = UINT64_MAX;
    /// Shortest interval between IRQ0 edges in the periodic modes (a guest programming a count
    /// of 2 must not starve its vCPU).
    static constexpr uint64_t kMinPeriodNs = 50'000;

    explicit PitChannel(bool gate) : m_gate(gate) {}

    /// Control word for this counter with RW != 0 (mode, access, BCD).
    void write_control(uint8_t control);
    /// Counter latch command (control word with RW = 0), or read-back COUNT.
    void latch_count(uint64_t now_ns);
    /// Read-back STATUS.
    void latch_status(uint64_t now_ns);
    void write_data(uint8_t value, uint64_t now_ns);
    uint8_t read_data(uint64_t now_ns);

    void set_gate(bool gate, uint64_t now_ns);
    bool gate() const { return m_gate; }
    bool output(uint64_t now_ns) const;
    /// The counting element's value now (binary; 0 stands for 65536 / 10000).
    uint32_t count(uint64_t now_ns) const;
    uint8_t mode() const { return m_mode; }
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

    /// True once for each new rising edge of OUT at or before `now_ns` (edges missed between two
    /// polls are coalesced into one).
    bool poll_rising_edge(uint64_t now_ns);
    /// When OUT next rises after `now_ns`, kNever if it will not without new programming.
    uint64_t next_rising_edge_ns(uint64_t now_ns) const;

private:
    bool counting() const;
    uint64_t elapsed_ticks(uint64_t now_ns) const;
    uint32_t modulus() const { return m_bcd ? 10000u : 65536u; }
    /// The edge tick at or before `ticks` (0: none yet) and the first after it (0: none).
    uint64_t last_edge_tick(uint64_t ticks) const;
    uint64_t next_edge_tick(uint64_t ticks) const;
    void load(uint32_t value, uint64_t now_ns);
    void restart(uint64_t now_ns);
    uint16_t encode(uint32_t count) const;

    uint8_t m_mode = 0;
    uint8_t m_access = 3;  ///< RW bits: 1 LSB, 2 MSB, 3 LSB then MSB
    bool m_bcd = false;
    uint32_t m_reload = 65536;  ///< N, 1..65536
    bool m_loaded = false;      ///< a count was written since the control word
    bool m_armed = false;       ///< modes 1 and 5: a gate trigger came
    bool m_gate;
    bool m_paused = false;      ///< gate low in a mode where that stops counting
    uint64_t m_start_ns = 0;
    uint64_t m_ticks_before = 0;  ///< ticks counted before the last pause
    uint64_t m_last_edge = 0;     ///< the last rising-edge tick reported by poll_rising_edge

    bool m_write_msb_next = false;
    uint8_t m_write_lsb = 0;
    bool m_read_msb_next = false;
    std::optional<uint16_t> m_latched_count;
    bool m_latched_msb_next = false;
    std::optional<uint8_t> m_latched_status;
};

}  // namespace popek::emu
