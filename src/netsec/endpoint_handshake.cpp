// Endpoint: the two handshake messages (docs/secure-net.md "Handshake"), Noise KK-like:
//   Hello   (initiator):  e, es, ss   — proves the initiator holds its static key
//   Welcome (responder):  e, ee, se   — proves the responder holds its static key; ee gives
//                                       forward secrecy to the transport keys
// then the initiator sends a keepalive under the new keys (key confirmation).
#include <sodium.h>

#include "netsec/endpoint.h"

namespace popek::netsec {
namespace {

void put_header(uint8_t* out, PacketType type) {
    out[0] = static_cast<uint8_t>(type);
    out[1] = kVersion;
    out[2] = out[3] = 0;
}

}  // namespace

size_t Endpoint::connect(int peer, uint8_t* out, size_t cap) {
    if (peer_key(peer) == nullptr || out == nullptr || cap < hello::kSize) return 0;
    Peer& p = m_peers[peer];
    uint8_t ephemeral_public[kKeyBytes];
    crypto_box_keypair(ephemeral_public, p.ephemeral_secret);
    p.initiating = false;   // fresh_index must not see the old hello index as taken forever
    p.hello_index = fresh_index();

    Chain& chain = p.hello_chain;
    chain.init(m_self.public_key, p.public_key);
    chain.mix(ephemeral_public, kKeyBytes);
    // A peer key that is a low-order point cannot be talked to.
    if (!chain.mix_dh(p.ephemeral_secret, p.public_key) || !chain.mix_dh(m_self.secret_key, p.public_key)) {
        chain.wipe();
        return 0;
    }
    uint8_t key[kKeyBytes];
    chain.derive(key, ChainKeyId::Hello);
    put_header(out, PacketType::Hello);
    put_le32(out + hello::kSenderIndex, p.hello_index);
    __builtin_memcpy(out + hello::kStatic, m_self.public_key, kKeyBytes);
    __builtin_memcpy(out + hello::kEphemeral, ephemeral_public, kKeyBytes);
    handshake_tag(key, out, hello::kTag, out + hello::kTag);
    sodium_memzero(key, sizeof key);
    chain.mix(out + hello::kTag, kTagBytes);   // binds the Welcome to this exact Hello (indexes included)
    p.initiating = true;
    ++m_counters.handshakes_started;
    ++m_counters.tx_packets;
    return hello::kSize;
}

Event Endpoint::on_hello(const uint8_t* packet, uint8_t* out, size_t cap) {
    const uint8_t* initiator_static = packet + hello::kStatic;
    const uint8_t* initiator_ephemeral = packet + hello::kEphemeral;
    int peer = find_peer(initiator_static);
    if (peer < 0) return drop(Drop::UnknownPeer, -1);
    Peer& p = m_peers[peer];

    Chain chain;
    chain.init(initiator_static, m_self.public_key);
    chain.mix(initiator_ephemeral, kKeyBytes);
    if (!chain.mix_dh(m_self.secret_key, initiator_ephemeral) || !chain.mix_dh(m_self.secret_key, initiator_static))
        return drop(Drop::BadAuth, peer);
    uint8_t key[kKeyBytes];
    chain.derive(key, ChainKeyId::Hello);
    bool ok = handshake_tag_ok(key, packet, hello::kTag, packet + hello::kTag);
    sodium_memzero(key, sizeof key);
    if (!ok) return drop(Drop::BadAuth, peer);
    // A recorded Hello played again authenticates, but must not start a session twice.
    if (p.have_last_hello && sodium_memcmp(p.last_hello_ephemeral, initiator_ephemeral, kKeyBytes) == 0)
        return drop(Drop::Replay, peer);
    chain.mix(packet + hello::kTag, kTagBytes);

    uint8_t ephemeral_public[kKeyBytes], ephemeral_secret[kKeyBytes];
    crypto_box_keypair(ephemeral_public, ephemeral_secret);
    chain.mix(ephemeral_public, kKeyBytes);
    bool dh_ok = chain.mix_dh(ephemeral_secret, initiator_ephemeral) && chain.mix_dh(ephemeral_secret, initiator_static);
    sodium_memzero(ephemeral_secret, sizeof ephemeral_secret);
    if (!dh_ok) return drop(Drop::BadAuth, peer);

    p.have_last_hello = true;
    __builtin_memcpy(p.last_hello_ephemeral, initiator_ephemeral, kKeyBytes);
    wipe(p.pending);
    Session& s = p.pending;
    s.local_index = fresh_index();
    s.remote_index = get_le32(packet + hello::kSenderIndex);
    chain.derive(s.rx_key, ChainKeyId::InitiatorToResponder);
    chain.derive(s.tx_key, ChainKeyId::ResponderToInitiator);
    s.valid = true;

    (void)cap;   // handle() checked cap >= kMaxPacket
    put_header(out, PacketType::Welcome);
    put_le32(out + welcome::kSenderIndex, s.local_index);
    put_le32(out + welcome::kReceiverIndex, s.remote_index);
    __builtin_memcpy(out + welcome::kEphemeral, ephemeral_public, kKeyBytes);
    chain.derive(key, ChainKeyId::Welcome);
    handshake_tag(key, out, welcome::kTag, out + welcome::kTag);
    sodium_memzero(key, sizeof key);
    ++m_counters.tx_packets;

    Event e;
    e.kind = Event::Kind::Send;
    e.peer = peer;
    e.length = welcome::kSize;
    return e;
}

Event Endpoint::on_welcome(const uint8_t* packet, uint8_t* out, size_t cap) {
    uint32_t index = get_le32(packet + welcome::kReceiverIndex);
    int peer = -1;
    for (int i = 0; i < kMaxPeers; ++i)
        if (m_peers[i].used && m_peers[i].initiating && m_peers[i].hello_index == index) peer = i;
    if (peer < 0) return drop(Drop::NoSession, -1);
    Peer& p = m_peers[peer];
    const uint8_t* responder_ephemeral = packet + welcome::kEphemeral;

    // Work on a copy: a forged Welcome must not spoil the handshake still in flight.
    Chain chain = p.hello_chain;
    chain.mix(responder_ephemeral, kKeyBytes);
    if (!chain.mix_dh(p.ephemeral_secret, responder_ephemeral) || !chain.mix_dh(m_self.secret_key, responder_ephemeral))
        return drop(Drop::BadAuth, peer);
    uint8_t key[kKeyBytes];
    chain.derive(key, ChainKeyId::Welcome);
    bool ok = handshake_tag_ok(key, packet, welcome::kTag, packet + welcome::kTag);
    sodium_memzero(key, sizeof key);
    if (!ok) return drop(Drop::BadAuth, peer);

    Session s;
    s.local_index = p.hello_index;
    s.remote_index = get_le32(packet + welcome::kSenderIndex);
    chain.derive(s.tx_key, ChainKeyId::InitiatorToResponder);
    chain.derive(s.rx_key, ChainKeyId::ResponderToInitiator);
    s.valid = true;
    p.initiating = false;
    p.hello_chain.wipe();
    sodium_memzero(p.ephemeral_secret, sizeof p.ephemeral_secret);
    promote(p, s);
    ++m_counters.handshakes_completed;

    Event e;
    e.kind = Event::Kind::Send;   // the key confirmation: an empty data packet
    e.peer = peer;
    e.length = seal(peer, nullptr, 0, out, cap);
    e.established = true;
    return e;
}

}  // namespace popek::netsec
