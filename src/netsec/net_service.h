#pragma once
/// The core of popek-os's network service (docs/guest-os.md "Networking"): local identities, the
/// channels programs open to peer keys, and the frames in and out. Portable and allocation-free
/// like Endpoint; the guest's netd wraps it in system calls, host tests drive it directly.
///
/// A channel joins one local identity to one peer key. `connect` channels start the handshake
/// (and retry the Hello from tick(), at growing intervals: hello_retry_delay_ms); `accept` channels wait for the peer's
/// Hello — a peer is accepted only while a channel to it is open. The caller (the kernel) has
/// already checked the policy; this layer enforces only what the channels allow.
#include <stddef.h>
#include <stdint.h>

#include "netsec/endpoint.h"
#include "netsec/ether.h"

namespace popek::netsec {

/// Results are >= 0 or one of these (Linux errno values, as popek-os's POS_E*).
enum : long {
    kErrAgain = -11,      ///< no message yet / handshake not complete
    kErrInvalid = -22,    ///< bad channel, identity or key
    kErrNoSpace = -28,    ///< channel table or peer table full
    kErrMsgSize = -90,    ///< message longer than data::kMaxMessage or the caller's buffer
};

class NetService {
public:
    static constexpr int kMaxIdentities = 4;
    static constexpr int kMaxChannels = 16;
    static constexpr int kInboxSlots = 4;   ///< messages queued per channel; more are dropped
    static constexpr uint64_t kHelloRetryMs = kHelloRetryFirstMs;   ///< the first retry's delay
    /// Sends one Ethernet frame on the netif.
    using Transmit = void (*)(void* context, const uint8_t* frame, size_t len);

    NetService(Transmit send_frame, void* context) : m_transmit(send_frame), m_context(context) {}
    NetService(const NetService&) = delete;
    NetService& operator=(const NetService&) = delete;

    /// A local identity; its index, or kErrNoSpace / kErrInvalid (libsodium failed).
    long add_identity(const Identity& id);
    /// Opens a channel from identity `local` to `peer`; the channel id.
    long open(int local, const uint8_t peer[kKeyBytes], bool initiate, uint64_t now_ms);
    void close(int channel);
    bool connected(int channel) const;
    /// Sends one message on an established channel; its length, or kErrAgain (not yet), ...
    long send(int channel, const uint8_t* msg, size_t len);
    /// Takes the oldest queued message into `buf`; its length, kErrAgain when there is none.
    long recv(int channel, uint8_t* buf, size_t cap);
    /// A frame from the netif (any ethertype; others are counted and ignored).
    void on_frame(const uint8_t* frame, size_t len);
    /// Retries Hellos of connect channels whose handshake has not completed.
    void tick(uint64_t now_ms);

    const Counters& counters(int local) const { return m_identities[local].endpoint.counters(); }
    /// Authenticated messages lost because the channel's inbox was full.
    uint64_t dropped_undeliverable() const { return m_undeliverable; }
    /// Frames of another ethertype, malformed packets, and packets for no local identity.
    uint64_t dropped_unroutable() const { return m_unroutable; }

private:
    struct Message {
        uint16_t length;
        uint8_t bytes[data::kMaxMessage];
    };
    struct Channel {
        bool used = false;
        bool initiate = false;
        int local = -1;
        int peer = -1;   ///< slot in the identity's Endpoint
        uint64_t next_hello_ms = 0;
        unsigned hellos_sent = 0;   ///< since open(): sets the next retry's delay
        uint8_t head = 0, count = 0;
        Message inbox[kInboxSlots];
    };
    struct LocalIdentity {
        bool used = false;
        uint8_t mac[kMacBytes] = {};
        Endpoint endpoint;
    };

    bool valid_channel(int channel) const;
    int channel_for(int local, int peer) const;
    int route(const uint8_t* frame, const uint8_t* packet, size_t len) const;
    void hello(Channel& c, uint64_t now_ms);
    void transmit(int local, const uint8_t dst[kMacBytes], const uint8_t* packet, size_t len);

    Transmit m_transmit;
    void* m_context;
    LocalIdentity m_identities[kMaxIdentities];
    Channel m_channels[kMaxChannels];
    uint64_t m_undeliverable = 0, m_unroutable = 0;
};

}  // namespace popek::netsec
