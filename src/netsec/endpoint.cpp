// Endpoint: peers, transport sessions (seal / receive data), packet dispatch and counters.
// The handshake messages are in endpoint_handshake.cpp.
#include <sodium.h>

#include "netsec/endpoint.h"

namespace popek::netsec {

bool identity_generate(Identity& id) {
    if (sodium_init() < 0) return false;
    return crypto_box_keypair(id.public_key, id.secret_key) == 0;
}

bool identity_from_secret(Identity& id, const uint8_t secret[kKeyBytes]) {
    if (sodium_init() < 0) return false;
    __builtin_memcpy(id.secret_key, secret, kKeyBytes);
    return crypto_scalarmult_base(id.public_key, id.secret_key) == 0;
}

Endpoint::~Endpoint() {
    for (int i = 0; i < kMaxPeers; ++i) remove_peer(i);
    sodium_memzero(&m_self, sizeof m_self);
}

bool Endpoint::init(const Identity& self) {
    if (sodium_init() < 0) return false;
    m_self = self;
    return true;
}

int Endpoint::add_peer(const uint8_t public_key[kKeyBytes]) {
    int found = find_peer(public_key);
    if (found >= 0) return found;
    for (int i = 0; i < kMaxPeers; ++i) {
        if (m_peers[i].used) continue;
        m_peers[i].used = true;
        __builtin_memcpy(m_peers[i].public_key, public_key, kKeyBytes);
        return i;
    }
    return -1;
}

int Endpoint::find_peer(const uint8_t public_key[kKeyBytes]) const {
    for (int i = 0; i < kMaxPeers; ++i)
        if (m_peers[i].used && sodium_memcmp(m_peers[i].public_key, public_key, kKeyBytes) == 0) return i;
    return -1;
}

void Endpoint::remove_peer(int peer) {
    if (peer_key(peer) == nullptr) return;
    Peer& p = m_peers[peer];
    wipe(p.current);
    wipe(p.previous);
    wipe(p.pending);
    sodium_memzero(p.ephemeral_secret, sizeof p.ephemeral_secret);
    p.hello_chain.wipe();
    p.initiating = false;
    p.have_last_hello = false;
    p.used = false;
}

const uint8_t* Endpoint::peer_key(int peer) const {
    if (peer < 0 || peer >= kMaxPeers || !m_peers[peer].used) return nullptr;
    return m_peers[peer].public_key;
}

bool Endpoint::connected(int peer) const { return peer_key(peer) != nullptr && m_peers[peer].current.valid; }

void Endpoint::wipe(Session& s) {
    sodium_memzero(&s, sizeof s);   // valid = false, keys and window cleared
}

void Endpoint::promote(Peer& p, Session& from) {
    wipe(p.previous);
    p.previous = p.current;
    p.current = from;
    wipe(from);
}

bool Endpoint::index_in_use(uint32_t index) const {
    for (const Peer& p : m_peers) {
        if (!p.used) continue;
        if ((p.current.valid && p.current.local_index == index) ||
            (p.previous.valid && p.previous.local_index == index) ||
            (p.pending.valid && p.pending.local_index == index) || (p.initiating && p.hello_index == index))
            return true;
    }
    return false;
}

uint32_t Endpoint::fresh_index() const {
    for (;;) {
        uint32_t index = randombytes_random();
        if (index != 0 && !index_in_use(index)) return index;
    }
}

size_t Endpoint::seal(int peer, const uint8_t* msg, size_t len, uint8_t* out, size_t cap) {
    if (!connected(peer) || len > data::kMaxMessage || cap < data::kHeader + len + kTagBytes) return 0;
    Session& s = m_peers[peer].current;
    if (s.tx_counter >= kCounterLimit) return 0;
    uint64_t counter = s.tx_counter++;
    out[0] = static_cast<uint8_t>(PacketType::Data);
    out[1] = kVersion;
    out[2] = out[3] = 0;
    put_le32(out + data::kReceiverIndex, s.remote_index);
    put_le64(out + data::kCounter, counter);
    uint8_t nonce[kNonceBytes] = {};
    put_le64(nonce, counter);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + data::kHeader, &clen, msg, len, out, data::kHeader, nullptr,
                                               nonce, s.tx_key);
    ++m_counters.tx_packets;
    return data::kHeader + static_cast<size_t>(clen);
}

Event Endpoint::drop(Drop why, int peer) {
    switch (why) {
        case Drop::Malformed: ++m_counters.dropped_malformed; break;
        case Drop::BadAuth: ++m_counters.dropped_bad_auth; break;
        case Drop::Replay: ++m_counters.dropped_replay; break;
        case Drop::UnknownPeer: ++m_counters.dropped_unknown_peer; break;
        case Drop::NoSession: ++m_counters.dropped_no_session; break;
        case Drop::None: break;
    }
    Event e;
    e.kind = Event::Kind::Dropped;
    e.drop = why;
    e.peer = peer;
    return e;
}

Event Endpoint::handle(const uint8_t* packet, size_t len, uint8_t* out, size_t cap) {
    if (packet == nullptr || out == nullptr || cap < kMaxPacket) return drop(Drop::Malformed, -1);
    if (len < 4 || len > kMaxPacket || packet[1] != kVersion || packet[2] != 0 || packet[3] != 0)
        return drop(Drop::Malformed, -1);
    switch (static_cast<PacketType>(packet[0])) {
        case PacketType::Hello:
            if (len != hello::kSize) return drop(Drop::Malformed, -1);
            return on_hello(packet, out, cap);
        case PacketType::Welcome:
            if (len != welcome::kSize) return drop(Drop::Malformed, -1);
            return on_welcome(packet, out, cap);
        case PacketType::Data:
            if (len < data::kHeader + kTagBytes) return drop(Drop::Malformed, -1);
            return on_data(packet, len, out, cap);
    }
    return drop(Drop::Malformed, -1);
}

Event Endpoint::on_data(const uint8_t* packet, size_t len, uint8_t* out, size_t cap) {
    uint32_t index = get_le32(packet + data::kReceiverIndex);
    int peer = -1;
    Session* s = nullptr;
    for (int i = 0; i < kMaxPeers && s == nullptr; ++i) {
        Peer& p = m_peers[i];
        if (!p.used) continue;
        Session* candidates[3] = {&p.current, &p.previous, &p.pending};
        for (Session* c : candidates) {
            if (c->valid && c->local_index == index) {
                s = c;
                peer = i;
                break;
            }
        }
    }
    if (s == nullptr) return drop(Drop::NoSession, -1);
    uint64_t counter = get_le64(packet + data::kCounter);
    if (counter >= kCounterLimit || !s->window.check(counter)) return drop(Drop::Replay, peer);
    uint8_t nonce[kNonceBytes] = {};
    put_le64(nonce, counter);
    unsigned long long mlen = 0;
    if (cap < len - data::kHeader - kTagBytes ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, nullptr, packet + data::kHeader, len - data::kHeader,
                                                   packet, data::kHeader, nonce, s->rx_key) != 0)
        return drop(Drop::BadAuth, peer);
    s->window.accept(counter);
    Event e;
    e.peer = peer;
    Peer& p = m_peers[peer];
    if (s == &p.pending) {   // the initiator proved it holds the new keys: the session is current
        promote(p, p.pending);
        ++m_counters.handshakes_completed;
        e.established = true;
    }
    e.length = static_cast<size_t>(mlen);
    if (mlen == 0) {
        ++m_counters.rx_keepalives;
        e.kind = Event::Kind::None;
    } else {
        ++m_counters.rx_messages;
        e.kind = Event::Kind::Message;
    }
    return e;
}

}  // namespace popek::netsec
