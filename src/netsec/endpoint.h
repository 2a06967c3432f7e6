#pragma once
/// One identity's end of popek secure networking (docs/secure-net.md): the accepted peers, the
/// handshake with each (Noise KK-like: both static X25519 keys authenticated, fresh ephemeral keys
/// for forward secrecy), the transport sessions with their replay windows, and the drop counters.
///
/// Portable and allocation-free: a fixed table of peers, no C++ library, only libsodium. popek's
/// host tools and popek-os programs use the same code. Not thread-safe: one owner drives it.
#include <stddef.h>
#include <stdint.h>

#include "netsec/handshake.h"
#include "netsec/replay_window.h"
#include "netsec/wire.h"

namespace popek::netsec {

/// A static X25519 key pair: the identity (users and hosts are public keys).
struct Identity {
    uint8_t public_key[kKeyBytes];
    uint8_t secret_key[kKeyBytes];
};
/// Fresh random identity (crypto_box_keypair); false if libsodium cannot initialize.
bool identity_generate(Identity& id);
/// The identity of a stored secret key (public = X25519 base point multiple).
bool identity_from_secret(Identity& id, const uint8_t secret[kKeyBytes]);

/// Why a received packet was dropped.
enum class Drop : uint8_t { None, Malformed, BadAuth, Replay, UnknownPeer, NoSession };

/// What the endpoint counts; every dropped packet lands in exactly one dropped_* counter.
struct Counters {
    uint64_t tx_packets = 0;           ///< packets built (hello, welcome, data)
    uint64_t rx_messages = 0;          ///< authenticated data packets with a message
    uint64_t rx_keepalives = 0;        ///< authenticated empty data packets
    uint64_t handshakes_started = 0;   ///< hellos sent
    uint64_t handshakes_completed = 0; ///< sessions that became current (either role)
    uint64_t dropped_malformed = 0;    ///< wrong size, type, version or reserved bits
    uint64_t dropped_bad_auth = 0;     ///< tag did not verify (tampered, wrong key)
    uint64_t dropped_replay = 0;       ///< counter already seen or behind the window; repeated hello
    uint64_t dropped_unknown_peer = 0; ///< hello from a static key that is not accepted
    uint64_t dropped_no_session = 0;   ///< receiver index matches no session or handshake
};

/// The outcome of handle().
struct Event {
    enum class Kind : uint8_t {
        None,     ///< accepted, nothing to do (a keepalive)
        Dropped,  ///< see `drop`
        Send,     ///< `out` holds a packet of `length` bytes to transmit to the sender
        Message,  ///< `out` holds `length` bytes of authenticated plaintext from `peer`
    } kind = Kind::None;
    Drop drop = Drop::None;
    int peer = -1;             ///< peer slot, -1 when not known
    size_t length = 0;
    bool established = false;  ///< this packet completed a handshake with `peer`
};

class Endpoint {
public:
    static constexpr int kMaxPeers = 16;
    /// Data counters stop here; a session must be replaced by a new handshake before.
    static constexpr uint64_t kCounterLimit = uint64_t{1} << 60;

    Endpoint() = default;
    ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    /// Initializes libsodium and takes the identity; false if libsodium cannot start.
    bool init(const Identity& self);
    const uint8_t* public_key() const { return m_self.public_key; }

    /// Accepts `public_key` as a peer; its slot (the same one when already accepted), or -1 when
    /// the table is full.
    int add_peer(const uint8_t public_key[kKeyBytes]);
    int find_peer(const uint8_t public_key[kKeyBytes]) const;
    /// Forgets a peer: its sessions and handshake are wiped, its Hellos are unknown-peer again.
    void remove_peer(int peer);
    /// `index` is one of ours (a session or a handshake in flight): Welcome and Data routing.
    bool knows_index(uint32_t index) const { return index != 0 && index_in_use(index); }
    const uint8_t* peer_key(int peer) const;
    /// A session with `peer` is established (seal() works).
    bool connected(int peer) const;

    /// Builds a Hello to `peer` into `out` (at least hello::kSize); its length, 0 on a bad slot or
    /// buffer. Calling it again (a lost hello) starts over with a new ephemeral key.
    size_t connect(int peer, uint8_t* out, size_t cap);
    /// Encrypts `len` bytes (at most data::kMaxMessage; 0 is a keepalive) for `peer` into `out`;
    /// the packet length, 0 when not connected, too long, or the counter is exhausted.
    size_t seal(int peer, const uint8_t* msg, size_t len, uint8_t* out, size_t cap);
    /// Processes one received packet. `out` (at least kMaxPacket bytes, not overlapping `packet`)
    /// receives a reply packet or the plaintext, as the event says.
    Event handle(const uint8_t* packet, size_t len, uint8_t* out, size_t cap);

    const Counters& counters() const { return m_counters; }

private:
    struct Session {
        bool valid = false;
        uint32_t local_index = 0;   ///< the index the other side puts into data packets to us
        uint32_t remote_index = 0;  ///< the index we put into data packets to them
        uint8_t tx_key[kKeyBytes] = {};
        uint8_t rx_key[kKeyBytes] = {};
        uint64_t tx_counter = 0;
        ReplayWindow window;
    };
    struct Peer {
        bool used = false;
        uint8_t public_key[kKeyBytes] = {};
        Session current;   ///< used for sending
        Session previous;  ///< still received (packets in flight; crossed handshakes)
        Session pending;   ///< responder side: waits for the initiator's first data packet
        bool initiating = false;
        uint32_t hello_index = 0;
        uint8_t ephemeral_secret[kKeyBytes] = {};
        Chain hello_chain;  ///< the chain after our Hello, to finish on the Welcome
        bool have_last_hello = false;
        uint8_t last_hello_ephemeral[kKeyBytes] = {};
    };

    Event on_hello(const uint8_t* packet, uint8_t* out, size_t cap);
    Event on_welcome(const uint8_t* packet, uint8_t* out, size_t cap);
    Event on_data(const uint8_t* packet, size_t len, uint8_t* out, size_t cap);
    Event drop(Drop why, int peer);
    uint32_t fresh_index() const;
    bool index_in_use(uint32_t index) const;
    static void wipe(Session& s);
    static void promote(Peer& p, Session& from);

    Identity m_self{};
    Peer m_peers[kMaxPeers];
    Counters m_counters;
};

}  // namespace popek::netsec
