// The secure-net protocol end to end in memory: handshake, data both ways, and every kind of
// hostile packet (tampered, replayed, unknown identity, impersonation, malformed) dropped and counted.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "netsec_test_util.h"

using namespace popek::netsec;
using popek::netsec::testing::Bytes;
using popek::netsec::testing::Pair;

namespace {

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string received(Pair& p, Endpoint& at, const Bytes& packet, Event* ev = nullptr) {
    Event e = at.handle(packet.data(), packet.size(), p.out, sizeof p.out);
    if (ev) *ev = e;
    if (e.kind != Event::Kind::Message) return "<" + std::to_string(static_cast<int>(e.drop)) + ">";
    return std::string(p.out, p.out + e.length);
}

TEST(NetsecEndpoint, HandshakeThenMessagesBothWays) {
    Pair p;
    EXPECT_FALSE(p.alice.connected(p.bob_at_alice));
    EXPECT_EQ(Pair::seal(p.alice, p.bob_at_alice, text("early")).size(), 0u);  // not connected yet
    ASSERT_TRUE(p.handshake());
    Event e;
    EXPECT_EQ(received(p, p.bob, Pair::seal(p.alice, p.bob_at_alice, text("hello bob")), &e), "hello bob");
    EXPECT_EQ(e.peer, p.alice_at_bob);
    EXPECT_EQ(received(p, p.alice, Pair::seal(p.bob, p.alice_at_bob, text("hi alice")), &e), "hi alice");
    EXPECT_EQ(e.peer, p.bob_at_alice);
    Bytes big(data::kMaxMessage, 0xab);
    Bytes sealed = Pair::seal(p.alice, p.bob_at_alice, big);
    EXPECT_EQ(sealed.size(), kMaxPacket);
    EXPECT_EQ(received(p, p.bob, sealed), std::string(big.begin(), big.end()));
    EXPECT_EQ(Pair::seal(p.alice, p.bob_at_alice, Bytes(data::kMaxMessage + 1, 1)).size(), 0u);

    EXPECT_EQ(p.alice.counters().handshakes_started, 1u);
    EXPECT_EQ(p.alice.counters().handshakes_completed, 1u);
    EXPECT_EQ(p.bob.counters().handshakes_completed, 1u);
    EXPECT_EQ(p.bob.counters().rx_keepalives, 1u);
    EXPECT_EQ(p.bob.counters().rx_messages, 2u);
    EXPECT_EQ(p.alice.counters().rx_messages, 1u);
    EXPECT_EQ(p.alice.counters().tx_packets, 4u);  // hello, confirm, two messages
    EXPECT_EQ(p.bob.counters().dropped_bad_auth + p.bob.counters().dropped_malformed, 0u);
}

TEST(NetsecEndpoint, CiphertextHeaderOrCounterTamperedIsDroppedAsBadAuth) {
    Pair p;
    ASSERT_TRUE(p.handshake());
    Bytes good = Pair::seal(p.alice, p.bob_at_alice, text("payload"));
    for (size_t at : {data::kHeader, good.size() - 1 /* tag */, data::kCounter /* nonce */}) {
        Bytes bad = good;
        bad[at] ^= 0x10;  // counter 1 -> 17: fresh, so only the tag can catch it
        EXPECT_EQ(received(p, p.bob, bad), "<" + std::to_string(static_cast<int>(Drop::BadAuth)) + ">") << at;
    }
    EXPECT_EQ(p.bob.counters().dropped_bad_auth, 3u);
    // A tampered copy must not burn the counter: the genuine packet still arrives.
    EXPECT_EQ(received(p, p.bob, good), "payload");
}

TEST(NetsecEndpoint, ReplayedAndStaleDataIsDropped) {
    Pair p;
    ASSERT_TRUE(p.handshake());
    std::vector<Bytes> packets;
    for (int i = 0; i < 70; ++i) packets.push_back(Pair::seal(p.alice, p.bob_at_alice, text("m" + std::to_string(i))));
    EXPECT_EQ(received(p, p.bob, packets[5]), "m5");
    EXPECT_EQ(received(p, p.bob, packets[3]), "m3");  // out of order inside the window: fine
    EXPECT_EQ(received(p, p.bob, packets[5]), "<3>");  // replay
    EXPECT_EQ(received(p, p.bob, packets[69]), "m69");
    EXPECT_EQ(received(p, p.bob, packets[4]), "<3>");  // 65 behind the highest: outside the window
    EXPECT_EQ(received(p, p.bob, packets[6]), "m6");   // 63 behind: still inside
    EXPECT_EQ(p.bob.counters().dropped_replay, 2u);
}

TEST(NetsecEndpoint, HelloFromUnacceptedIdentityIsDropped) {
    Pair p;
    Identity stranger_id;
    identity_generate(stranger_id);
    Endpoint stranger;
    stranger.init(stranger_id);
    int bob = stranger.add_peer(p.bob_id.public_key);
    uint8_t hello[kMaxPacket];
    size_t n = stranger.connect(bob, hello, sizeof hello);
    Event e = p.bob.handle(hello, n, p.out, sizeof p.out);
    EXPECT_EQ(e.kind, Event::Kind::Dropped);
    EXPECT_EQ(e.drop, Drop::UnknownPeer);
    EXPECT_EQ(p.bob.counters().dropped_unknown_peer, 1u);
}

TEST(NetsecEndpoint, ImpersonationWithoutTheSecretKeyFails) {
    Pair p;
    // Mallory claims alice's public key but holds another secret key.
    Identity fake = p.alice_id;
    Identity mallory_real;
    identity_generate(mallory_real);
    std::memcpy(fake.secret_key, mallory_real.secret_key, kKeyBytes);
    Endpoint mallory;
    mallory.init(fake);
    uint8_t hello[kMaxPacket];
    size_t n = mallory.connect(mallory.add_peer(p.bob_id.public_key), hello, sizeof hello);
    EXPECT_EQ(p.bob.handle(hello, n, p.out, sizeof p.out).drop, Drop::BadAuth);

    // A responder that is not bob (accepts alice, but has its own key) cannot answer alice's hello.
    Identity carol_id;
    identity_generate(carol_id);
    Endpoint carol;
    carol.init(carol_id);
    carol.add_peer(p.alice_id.public_key);
    Bytes h = p.hello();
    EXPECT_EQ(carol.handle(h.data(), h.size(), p.out, sizeof p.out).drop, Drop::BadAuth);
    EXPECT_EQ(carol.counters().dropped_bad_auth, 1u);
}

TEST(NetsecEndpoint, ReplayedHelloDoesNotStartASecondSession) {
    Pair p;
    Bytes h = p.hello();
    EXPECT_EQ(p.bob.handle(h.data(), h.size(), p.out, sizeof p.out).kind, Event::Kind::Send);
    EXPECT_EQ(p.bob.handle(h.data(), h.size(), p.out, sizeof p.out).drop, Drop::Replay);
    EXPECT_EQ(p.bob.counters().dropped_replay, 1u);
}

TEST(NetsecEndpoint, TamperedOrUnexpectedWelcomeIsDroppedAndTheRealOneStillWorks) {
    Pair p;
    Bytes h = p.hello();
    Event w = p.bob.handle(h.data(), h.size(), p.out, sizeof p.out);
    Bytes welcome(p.out, p.out + w.length);
    for (size_t at : {welcome::kSenderIndex, welcome::kEphemeral + 3, welcome::kTag + 1}) {
        Bytes bad = welcome;
        bad[at] ^= 0x40;
        EXPECT_EQ(p.alice.handle(bad.data(), bad.size(), p.out, sizeof p.out).drop, Drop::BadAuth) << at;
    }
    Bytes wrong_index = welcome;
    wrong_index[welcome::kReceiverIndex] ^= 1;
    EXPECT_EQ(p.alice.handle(wrong_index.data(), wrong_index.size(), p.out, sizeof p.out).drop, Drop::NoSession);
    Event c = p.alice.handle(welcome.data(), welcome.size(), p.out, sizeof p.out);
    EXPECT_TRUE(c.established);
    EXPECT_EQ(p.alice.counters().dropped_bad_auth, 3u);
    EXPECT_EQ(p.alice.counters().dropped_no_session, 1u);
    // The same Welcome again: the handshake is over, nothing waits for it.
    EXPECT_EQ(p.alice.handle(welcome.data(), welcome.size(), p.out, sizeof p.out).drop, Drop::NoSession);
}

TEST(NetsecEndpoint, LowOrderEphemeralKeyIsRejected) {
    Pair p;
    Bytes h = p.hello();
    std::memset(h.data() + hello::kEphemeral, 0, kKeyBytes);  // the identity point: X25519 gives zero
    EXPECT_EQ(p.bob.handle(h.data(), h.size(), p.out, sizeof p.out).drop, Drop::BadAuth);
}

TEST(NetsecEndpoint, TruncatedOversizedAndMalformedPacketsAreDropped) {
    Pair p;
    ASSERT_TRUE(p.handshake());
    Bytes good = Pair::seal(p.alice, p.bob_at_alice, text("x"));
    Bytes h = p.hello();
    std::vector<Bytes> bad = {
        {},
        {3, 1, 0},
        Bytes(good.begin(), good.begin() + data::kHeader + kTagBytes - 1),  // shorter than header + tag
        Bytes(kMaxPacket + 1, 0),
        Bytes(h.begin(), h.end() - 1),
        Bytes(60, 0),  // type 0
    };
    Bytes v = good; v[1] = 2; bad.push_back(v);            // version
    Bytes r = good; r[3] = 1; bad.push_back(r);            // reserved
    Bytes t = good; t[0] = 9; bad.push_back(t);            // type
    Bytes longer = h; longer.push_back(0); bad.push_back(longer);
    for (const Bytes& b : bad)
        EXPECT_EQ(p.bob.handle(b.data(), b.size(), p.out, sizeof p.out).drop, Drop::Malformed) << b.size();
    EXPECT_EQ(p.bob.counters().dropped_malformed, bad.size());
    // Data cut short but still long enough for a tag: authentication fails.
    Bytes cut(good.begin(), good.end() - 1);
    EXPECT_EQ(p.bob.handle(cut.data(), cut.size(), p.out, sizeof p.out).drop, Drop::BadAuth);
    Bytes unknown_index = good; unknown_index[data::kReceiverIndex] ^= 0xff;
    EXPECT_EQ(p.bob.handle(unknown_index.data(), unknown_index.size(), p.out, sizeof p.out).drop, Drop::NoSession);
    uint8_t small[64];
    EXPECT_EQ(p.bob.handle(good.data(), good.size(), small, sizeof small).drop, Drop::Malformed);
    EXPECT_EQ(received(p, p.bob, good), "x");
}

TEST(NetsecEndpoint, NewHandshakeReplacesTheSessionAndInFlightPacketsStillArrive) {
    Pair p;
    ASSERT_TRUE(p.handshake());
    Bytes old_packet = Pair::seal(p.alice, p.bob_at_alice, text("old keys"));
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(received(p, p.bob, Pair::seal(p.alice, p.bob_at_alice, text("new keys"))), "new keys");
    EXPECT_EQ(received(p, p.bob, old_packet), "old keys");
    EXPECT_EQ(received(p, p.alice, Pair::seal(p.bob, p.alice_at_bob, text("reply"))), "reply");
}

TEST(NetsecEndpoint, CrossedHandshakesStillCarryDataBothWays) {
    Pair p;
    uint8_t a_hello[kMaxPacket], b_hello[kMaxPacket];
    size_t an = p.alice.connect(p.bob_at_alice, a_hello, sizeof a_hello);
    size_t bn = p.bob.connect(p.alice_at_bob, b_hello, sizeof b_hello);
    uint8_t a_welcome[kMaxPacket], b_welcome[kMaxPacket];
    size_t awn = p.alice.handle(b_hello, bn, a_welcome, sizeof a_welcome).length;
    size_t bwn = p.bob.handle(a_hello, an, b_welcome, sizeof b_welcome).length;
    uint8_t a_conf[kMaxPacket], b_conf[kMaxPacket];
    size_t acn = p.alice.handle(b_welcome, bwn, a_conf, sizeof a_conf).length;
    size_t bcn = p.bob.handle(a_welcome, awn, b_conf, sizeof b_conf).length;
    EXPECT_TRUE(p.bob.handle(a_conf, acn, p.out, sizeof p.out).established);
    EXPECT_TRUE(p.alice.handle(b_conf, bcn, p.out, sizeof p.out).established);
    EXPECT_EQ(received(p, p.bob, Pair::seal(p.alice, p.bob_at_alice, text("a->b"))), "a->b");
    EXPECT_EQ(received(p, p.alice, Pair::seal(p.bob, p.alice_at_bob, text("b->a"))), "b->a");
}

TEST(NetsecEndpoint, PeerTableIsBounded) {
    Identity id;
    identity_generate(id);
    Endpoint e;
    e.init(id);
    uint8_t key[kKeyBytes] = {};
    for (int i = 0; i < Endpoint::kMaxPeers; ++i) {
        key[0] = static_cast<uint8_t>(i + 1);
        EXPECT_EQ(e.add_peer(key), i);
    }
    key[0] = 1;
    EXPECT_EQ(e.add_peer(key), 0);  // already there
    key[0] = 0xee;
    EXPECT_EQ(e.add_peer(key), -1);
    uint8_t out[kMaxPacket];
    EXPECT_EQ(e.connect(-1, out, sizeof out), 0u);
    EXPECT_EQ(e.connect(Endpoint::kMaxPeers, out, sizeof out), 0u);
    EXPECT_EQ(e.connect(0, out, 10), 0u);
}

TEST(NetsecReplayWindow, SlidesAndRemembers) {
    ReplayWindow w;
    EXPECT_TRUE(w.check(0));
    w.accept(0);
    EXPECT_FALSE(w.check(0));
    w.accept(200);
    EXPECT_FALSE(w.check(0));
    EXPECT_TRUE(w.check(137));
    EXPECT_FALSE(w.check(136));
    w.accept(150);
    EXPECT_FALSE(w.check(150));
    EXPECT_TRUE(w.check(151));
    w.reset();
    EXPECT_TRUE(w.check(150));
}

}  // namespace
