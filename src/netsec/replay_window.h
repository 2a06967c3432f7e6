#pragma once
/// Sliding replay window over the 64-bit data counters of one session (docs/secure-net.md
/// "Replay"): the highest counter seen and a bitmap of the 64 counters at and below it.
/// check() before authenticating (cheap reject), accept() only after the tag verified.
#include <stdint.h>

namespace popek::netsec {

class ReplayWindow {
public:
    static constexpr uint64_t kWidth = 64;

    /// True when `counter` has not been accepted yet and is not older than the window.
    bool check(uint64_t counter) const {
        if (!m_any || counter > m_highest) return true;
        uint64_t behind = m_highest - counter;
        if (behind >= kWidth) return false;
        return ((m_seen >> behind) & 1) == 0;
    }
    void accept(uint64_t counter) {
        if (!m_any) {
            m_any = true;
            m_highest = counter;
            m_seen = 1;
        } else if (counter > m_highest) {
            uint64_t shift = counter - m_highest;
            m_seen = shift >= kWidth ? 0 : m_seen << shift;
            m_seen |= 1;
            m_highest = counter;
        } else {
            m_seen |= uint64_t{1} << (m_highest - counter);
        }
    }
    void reset() { *this = ReplayWindow{}; }

private:
    uint64_t m_highest = 0;
    uint64_t m_seen = 0;   ///< bit n: counter m_highest - n was accepted
    bool m_any = false;
};

}  // namespace popek::netsec
