#pragma once
/// A man in the middle for secure-net tests (docs/secure-net.md), on two unix-datagram links:
/// frames from side A reach side B with every data packet preceded by a tampered copy (first
/// ciphertext byte flipped) and a frame of another ethertype, and followed by a replay of itself;
/// frames from B reach A unchanged. The receiver must deliver each message once and count the rest.
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "netsec/ether.h"
#include "netsec/wire.h"
#include "util/unix_dgram.h"

namespace popek::test {

class HostileRelay {
public:
    /// Side A: bound at `a_local`, sending to `a_remote`; side B likewise.
    HostileRelay(const std::string& a_local, const std::string& a_remote, const std::string& b_local,
                 const std::string& b_remote)
        : m_a(*UnixDgramSocket::open(a_local, a_remote)),
          m_b(*UnixDgramSocket::open(b_local, b_remote)),
          m_thread([this] { run(); }) {}
    ~HostileRelay() {
        m_stop = true;
        m_thread.join();
    }
    HostileRelay(const HostileRelay&) = delete;
    HostileRelay& operator=(const HostileRelay&) = delete;

private:
    void run() {
        uint8_t frame[2048];
        while (!m_stop) {
            if (auto got = m_a.receive(frame, 10); got && *got) from_a({frame, **got});
            if (auto got = m_b.receive(frame, 10); got && *got) m_a.send({frame, **got});
        }
    }
    void from_a(std::span<uint8_t> frame) {
        namespace ns = netsec;
        const bool is_data = frame.size() > ns::kFrameHeader + ns::data::kHeader && frame[ns::kFrameHeader] == 3;
        if (is_data) {
            std::vector<uint8_t> bad(frame.begin(), frame.end());
            bad[ns::kFrameHeader + ns::data::kHeader] ^= 0x80;   // first ciphertext byte
            m_b.send(bad);
            std::vector<uint8_t> other(60, 0);
            other[12] = 0x08;   // IPv4: not secure-net
            m_b.send(other);
        }
        m_b.send(frame);
        if (is_data) m_b.send(frame);   // replay
    }

    UnixDgramSocket m_a, m_b;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

}  // namespace popek::test
