#include "netsec/net_peer.h"

#include <fmt/core.h>

#include <chrono>
#include <optional>

#include "netsec/ether.h"
#include "netsec/key_file.h"
#include "popek/pvabi/netbench.h"
#include "util/unix_dgram.h"

namespace popek::netsec {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kUsage = 2, kFailed = 1;

/// Message bytes for a terminal: printable ASCII as is, everything else as \xNN.
std::string printable(const uint8_t* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') s += static_cast<char>(p[i]);
        else s += fmt::format("\\x{:02x}", p[i]);
    }
    return s;
}

/// The receiving end of a netbench stream (include/popek/pvabi/netbench.h): checks every byte of
/// every message against the pattern, counts gaps in the sequence numbers as lost messages, and
/// says when an acknowledgement is due.
class StreamCheck {
public:
    explicit StreamCheck(uint64_t bytes) : m_bytes(bytes), m_messages(netbench_messages(bytes)) {}

    /// One received message; true when an acknowledgement (ack()) is due.
    bool on_message(const uint8_t* p, size_t n) {
        auto now = Clock::now();
        if (m_received == 0) m_first = now;
        m_last = now;
        ++m_received;
        uint64_t k = m_next;
        if (n >= 4) k = static_cast<uint64_t>(get_le32(p));
        if (k < m_next || k >= m_messages) {   // a repeat, or past the end: never sent like this
            ++m_bad;
            return false;
        }
        const uint64_t before = m_next;
        m_lost += k - m_next;
        m_next = k + 1;
        bool ok = n == netbench_length(m_bytes, k);
        for (uint32_t j = 0; ok && j < n; ++j) ok = p[j] == netbench_byte(k, j);
        if (ok) m_verified += n;
        else ++m_bad;
        return m_next / NETBENCH_ACK_EVERY != before / NETBENCH_ACK_EVERY || m_next == m_messages;
    }
    /// The acknowledgement: messages accounted for so far.
    void ack(uint8_t out[NETBENCH_ACK_BYTES]) const { put_le64(out, m_next); }
    bool done() const { return m_next == m_messages; }
    bool passed() const { return done() && m_lost == 0 && m_bad == 0 && m_verified == m_bytes; }
    void report() const {
        double s = std::chrono::duration<double>(m_last - m_first).count();
        fmt::print(stderr, "net-peer: stream: {} of {} bytes verified in {} messages, lost {}, bad {}; {:.3f} s, {:.2f} MB/s\n",
                   m_verified, m_bytes, m_received, m_lost, m_bad, s, s > 0 ? static_cast<double>(m_verified) / s / 1e6 : 0.0);
    }

private:
    uint64_t m_bytes, m_messages;
    uint64_t m_next = 0, m_received = 0, m_verified = 0, m_lost = 0, m_bad = 0;
    Clock::time_point m_first{}, m_last{};
};

class Peer {
public:
    Peer(Endpoint& endpoint, UnixDgramSocket& socket, StreamCheck* stream = nullptr)
        : m_endpoint(endpoint), m_socket(socket), m_stream(stream) {
        mac_from_key(m_mac, endpoint.public_key());
    }

    /// To `peer`'s MAC (02: + its key prefix, which names the destination identity), or with
    /// peer < 0 to the source of the last accepted frame.
    void transmit(const uint8_t* packet, size_t len, int peer = -1) {
        uint8_t frame[kMaxFrame], dst[kMacBytes];
        if (peer >= 0) mac_from_key(dst, m_endpoint.peer_key(peer));
        else __builtin_memcpy(dst, m_remote_mac, kMacBytes);
        frame_header(frame, dst, m_mac, len);
        __builtin_memcpy(frame + kFrameHeader, packet, len);
        [[maybe_unused]] bool sent = m_socket.send(std::span<const uint8_t>(frame, kFrameHeader + len));
    }
    void hello(int peer) {
        uint8_t packet[kMaxPacket];
        size_t n = m_endpoint.connect(peer, packet, sizeof packet);
        if (n) transmit(packet, n, peer);
    }
    bool send_message(int peer, const uint8_t* msg, size_t len) {
        uint8_t packet[kMaxPacket];
        size_t n = m_endpoint.seal(peer, msg, len, packet, sizeof packet);
        if (n) transmit(packet, n, peer);
        return n != 0;
    }
    bool send_message(int peer, const std::string& msg) {
        return send_message(peer, reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
    }

    /// Waits up to `wait` for one frame and handles it; an error only when the socket fails.
    /// Returns true when something arrived (a message is counted in m_messages).
    Result<bool> poll_once(Clock::duration wait, bool echo) {
        uint8_t frame[kMaxFrame + 64];
        int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
        auto got = TRY(m_socket.receive(frame, ms));
        if (!got) return false;
        const uint8_t* packet = nullptr;
        size_t len = 0;
        if (!frame_packet(frame, std::min(*got, sizeof frame), &packet, &len)) {
            ++m_foreign_frames;
            return true;
        }
        uint8_t out[kMaxPacket];
        Event e = m_endpoint.handle(packet, len, out, sizeof out);
        if (e.kind != Event::Kind::Dropped) __builtin_memcpy(m_remote_mac, frame + kMacBytes, kMacBytes);
        if (e.kind == Event::Kind::Send && e.length) transmit(out, e.length);
        if (e.kind == Event::Kind::Message && m_stream != nullptr) {
            if (m_stream->on_message(out, e.length)) {
                uint8_t ack[NETBENCH_ACK_BYTES];
                m_stream->ack(ack);
                send_message(e.peer, ack, sizeof ack);
            }
        } else if (e.kind == Event::Kind::Message) {
            ++m_messages;
            const uint8_t* key = m_endpoint.peer_key(e.peer);
            fmt::print("{}: {}\n", to_hex(key, kKeyBytes).substr(0, 16), printable(out, e.length));
            std::fflush(stdout);
            if (echo) {
                uint8_t packet_out[kMaxPacket];
                size_t n = m_endpoint.seal(e.peer, out, e.length, packet_out, sizeof packet_out);
                if (n) transmit(packet_out, n, e.peer);
            }
        }
        return true;
    }

    int messages() const { return m_messages; }
    uint64_t foreign_frames() const { return m_foreign_frames; }

private:
    Endpoint& m_endpoint;
    UnixDgramSocket& m_socket;
    StreamCheck* m_stream;
    uint8_t m_mac[kMacBytes];
    uint8_t m_remote_mac[kMacBytes] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    int m_messages = 0;
    uint64_t m_foreign_frames = 0;
};

void print_counters(const Counters& c, uint64_t foreign) {
    fmt::print(stderr,
               "net-peer: sent {}, received {} (+{} keepalive), handshakes completed {} (started {}); dropped: malformed {}, bad-auth {}, "
               "replay {}, unknown-peer {}, no-session {}, other-ethertype {}\n",
               c.tx_packets, c.rx_messages, c.rx_keepalives, c.handshakes_completed, c.handshakes_started,
               c.dropped_malformed, c.dropped_bad_auth, c.dropped_replay, c.dropped_unknown_peer,
               c.dropped_no_session, foreign);
}

int usage(const std::string& message) {
    fmt::print(stderr, "popek net-peer: {} (see popek net-peer --help)\n", message);
    return kUsage;
}

}  // namespace

int run_net_peer(const NetPeerOptions& o) {
    if (!o.gen_key_path.empty()) {
        auto id = generate_key_file(o.gen_key_path);
        if (!id) return usage(id.error().message);
        fmt::print("{}\n", to_hex(id->public_key, kKeyBytes));
        return 0;
    }
    if (o.key_path.empty()) return usage("--key FILE (or --gen-key FILE) is required");
    auto id = read_key_file(o.key_path);
    if (!id) return usage(id.error().message);
    if (o.print_public) {
        fmt::print("{}\n", to_hex(id->public_key, kKeyBytes));
        return 0;
    }
    if (o.peers.empty()) return usage("at least one --peer PUBLIC_KEY is required");
    if (o.local_path.empty()) return usage("--dgram LOCAL,REMOTE is required");
    if (o.messages.empty() && o.receive_count == 0 && o.receive_bytes == 0 && !o.echo)
        return usage("nothing to do: give --send, --recv, --recv-bytes or --echo");
    if (o.receive_bytes > 0 && (o.receive_count > 0 || o.echo)) return usage("--recv-bytes excludes --recv and --echo");
    for (const auto& m : o.messages)
        if (m.size() > data::kMaxMessage) return usage(fmt::format("a message is at most {} bytes", data::kMaxMessage));

    Endpoint endpoint;
    if (!endpoint.init(*id)) return usage("libsodium failed to initialize");
    for (const auto& text : o.peers) {
        auto key = parse_public_key(text);
        if (!key) return usage(key.error().message);
        if (endpoint.add_peer(key->data()) < 0) return usage("too many --peer keys");
    }
    auto socket = UnixDgramSocket::open(o.local_path, o.remote_path);
    if (!socket) return usage(socket.error().message);
    std::optional<StreamCheck> stream;
    if (o.receive_bytes > 0) stream.emplace(o.receive_bytes);
    Peer peer(endpoint, *socket, stream ? &*stream : nullptr);

    const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));
    auto deadline = Clock::now() + timeout;
    auto expired = [&] { return o.timeout_s > 0 && Clock::now() >= deadline; };
    int status = 0;
    auto fail_with = [&](const std::string& why) {
        fmt::print(stderr, "popek net-peer: {}\n", why);
        status = kFailed;
    };

    if (!o.messages.empty()) {
        const int target = 0;   // the first --peer
        auto next_hello = Clock::now();
        unsigned hellos_sent = 0;
        while (!endpoint.connected(target) && status == 0) {
            if (expired()) {
                fail_with(fmt::format("no handshake with {} within {} s", o.peers[0], o.timeout_s));
                break;
            }
            if (Clock::now() >= next_hello) {
                peer.hello(target);
                next_hello = Clock::now() + std::chrono::milliseconds(hello_retry_delay_ms(++hellos_sent));
            }
            auto r = peer.poll_once(std::chrono::milliseconds(kHelloRetryFirstMs / 4), o.echo);
            if (!r) fail_with(r.error().message);
        }
        for (size_t i = 0; status == 0 && i < o.messages.size(); ++i)
            if (!peer.send_message(target, o.messages[i])) fail_with("sending failed (session lost)");
    }
    const int wanted = o.receive_count;
    deadline = Clock::now() + timeout;
    auto more = [&] {
        if (stream) return !stream->done();
        return wanted > 0 ? peer.messages() < wanted : (o.echo && o.messages.empty());
    };
    while (status == 0 && more()) {
        if (expired()) {
            if (stream)
                fail_with(fmt::format("stream incomplete after {} s without progress", o.timeout_s));
            else if (wanted > 0)
                fail_with(fmt::format("received {} of {} messages within {} s", peer.messages(), wanted, o.timeout_s));
            break;   // an echo service without --recv ends when idle for --timeout
        }
        auto r = peer.poll_once(std::chrono::milliseconds(100), o.echo);
        if (!r) fail_with(r.error().message);
        else if (*r) deadline = Clock::now() + timeout;
    }
    if (stream) {
        stream->report();
        if (status == 0 && !stream->passed()) fail_with("the stream did not arrive intact");
    }
    print_counters(endpoint.counters(), peer.foreign_frames());
    return status;
}

}  // namespace popek::netsec
