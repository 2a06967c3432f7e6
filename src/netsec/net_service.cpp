// NetService: channels over per-identity Endpoints, frame routing, inboxes, Hello retries.
#include "netsec/net_service.h"

#include <sodium.h>

namespace popek::netsec {

long NetService::add_identity(const Identity& id) {
    for (int i = 0; i < kMaxIdentities; ++i) {
        LocalIdentity& l = m_identities[i];
        if (l.used) continue;
        if (!l.endpoint.init(id)) return kErrInvalid;
        mac_from_key(l.mac, id.public_key);
        l.used = true;
        return i;
    }
    return kErrNoSpace;
}

bool NetService::valid_channel(int channel) const {
    return channel >= 0 && channel < kMaxChannels && m_channels[channel].used;
}

int NetService::channel_for(int local, int peer) const {
    for (int i = 0; i < kMaxChannels; ++i)
        if (m_channels[i].used && m_channels[i].local == local && m_channels[i].peer == peer) return i;
    return -1;
}

long NetService::open(int local, const uint8_t peer[kKeyBytes], bool initiate, uint64_t now_ms) {
    if (local < 0 || local >= kMaxIdentities || !m_identities[local].used || peer == nullptr) return kErrInvalid;
    Endpoint& e = m_identities[local].endpoint;
    int existing = e.find_peer(peer);
    if (existing >= 0 && channel_for(local, existing) >= 0) return kErrInvalid;   // one channel per key pair
    int free_channel = -1;
    for (int i = 0; i < kMaxChannels && free_channel < 0; ++i)
        if (!m_channels[i].used) free_channel = i;
    if (free_channel < 0) return kErrNoSpace;
    int slot = e.add_peer(peer);
    if (slot < 0) return kErrNoSpace;
    Channel& c = m_channels[free_channel];
    c.used = true;
    c.initiate = initiate;
    c.local = local;
    c.peer = slot;
    c.head = c.count = 0;
    c.hellos_sent = 0;
    if (initiate) hello(c, now_ms);
    return free_channel;
}

void NetService::close(int channel) {
    if (!valid_channel(channel)) return;
    Channel& c = m_channels[channel];
    m_identities[c.local].endpoint.remove_peer(c.peer);   // its Hellos are unknown-peer again
    sodium_memzero(c.inbox, sizeof c.inbox);
    c.used = false;
}

bool NetService::connected(int channel) const {
    return valid_channel(channel) && m_identities[m_channels[channel].local].endpoint.connected(m_channels[channel].peer);
}

void NetService::transmit(int local, const uint8_t dst[kMacBytes], const uint8_t* packet, size_t len) {
    uint8_t frame[kMaxFrame];
    frame_header(frame, dst, m_identities[local].mac, len);
    __builtin_memcpy(frame + kFrameHeader, packet, len);
    m_transmit(m_context, frame, kFrameHeader + len);
}

void NetService::hello(Channel& c, uint64_t now_ms) {
    Endpoint& e = m_identities[c.local].endpoint;
    uint8_t packet[kMaxPacket];
    size_t n = e.connect(c.peer, packet, sizeof packet);
    if (c.hellos_sent < ~0u) ++c.hellos_sent;
    c.next_hello_ms = now_ms + hello_retry_delay_ms(c.hellos_sent);
    if (n == 0) return;
    uint8_t dst[kMacBytes];
    mac_from_key(dst, e.peer_key(c.peer));   // the destination MAC names the destination identity
    transmit(c.local, dst, packet, n);
}

void NetService::tick(uint64_t now_ms) {
    for (Channel& c : m_channels)
        if (c.used && c.initiate && !m_identities[c.local].endpoint.connected(c.peer) && now_ms >= c.next_hello_ms)
            hello(c, now_ms);
}

long NetService::send(int channel, const uint8_t* msg, size_t len) {
    if (!valid_channel(channel) || (msg == nullptr && len != 0)) return kErrInvalid;
    if (len > data::kMaxMessage) return kErrMsgSize;
    Channel& c = m_channels[channel];
    Endpoint& e = m_identities[c.local].endpoint;
    if (!e.connected(c.peer)) return kErrAgain;
    uint8_t packet[kMaxPacket];
    size_t n = e.seal(c.peer, msg, len, packet, sizeof packet);
    if (n == 0) return kErrAgain;   // counter exhausted: a new handshake is needed
    uint8_t dst[kMacBytes];
    mac_from_key(dst, e.peer_key(c.peer));
    transmit(c.local, dst, packet, n);
    return static_cast<long>(len);
}

long NetService::recv(int channel, uint8_t* buf, size_t cap) {
    if (!valid_channel(channel) || buf == nullptr) return kErrInvalid;
    Channel& c = m_channels[channel];
    if (c.count == 0) return kErrAgain;
    Message& m = c.inbox[c.head];
    if (m.length > cap) return kErrMsgSize;
    __builtin_memcpy(buf, m.bytes, m.length);
    c.head = static_cast<uint8_t>((c.head + 1) % kInboxSlots);
    --c.count;
    return m.length;
}

/// Which identity a packet is for: a Hello by its destination MAC (or, broadcast, by the identity
/// that accepts its sender), a Welcome or Data by the receiver index.
int NetService::route(const uint8_t* frame, const uint8_t* packet, size_t len) const {
    auto type = static_cast<PacketType>(packet[0]);
    size_t index_at = 0;
    if (type == PacketType::Hello && len == hello::kSize) index_at = 0;
    else if (type == PacketType::Welcome && len == welcome::kSize) index_at = welcome::kReceiverIndex;
    else if (type == PacketType::Data && len >= data::kHeader + kTagBytes) index_at = data::kReceiverIndex;
    else return -1;   // malformed: not worth an identity's time
    for (int i = 0; i < kMaxIdentities; ++i) {
        const LocalIdentity& l = m_identities[i];
        if (!l.used) continue;
        if (type == PacketType::Hello) {
            if (__builtin_memcmp(frame, l.mac, kMacBytes) == 0) return i;
            if (__builtin_memcmp(frame, kBroadcastMac, kMacBytes) == 0 && l.endpoint.find_peer(packet + hello::kStatic) >= 0)
                return i;
        } else if (l.endpoint.knows_index(get_le32(packet + index_at))) {
            return i;
        }
    }
    return -1;
}

void NetService::on_frame(const uint8_t* frame, size_t len) {
    const uint8_t* packet = nullptr;
    size_t packet_len = 0;
    if (!frame_packet(frame, len, &packet, &packet_len) || packet_len == 0) {
        ++m_unroutable;
        return;
    }
    int local = route(frame, packet, packet_len);
    if (local < 0) {
        ++m_unroutable;
        return;
    }
    uint8_t out[kMaxPacket];
    Event e = m_identities[local].endpoint.handle(packet, packet_len, out, sizeof out);
    if (e.kind == Event::Kind::Send && e.length) transmit(local, frame + kMacBytes, out, e.length);
    if (e.kind != Event::Kind::Message) return;
    int channel = channel_for(local, e.peer);
    Channel* c = channel >= 0 ? &m_channels[channel] : nullptr;
    if (c == nullptr || c->count == kInboxSlots) {
        ++m_undeliverable;
        return;
    }
    Message& m = c->inbox[(c->head + c->count) % kInboxSlots];
    m.length = static_cast<uint16_t>(e.length);
    __builtin_memcpy(m.bytes, out, e.length);
    ++c->count;
}

}  // namespace popek::netsec
