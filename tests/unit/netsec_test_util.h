#pragma once
// Two endpoints wired back to back in memory, for the netsec unit tests, fuzz target and bench.
#include <cstdint>
#include <vector>

#include "netsec/endpoint.h"

namespace popek::netsec::testing {

using Bytes = std::vector<uint8_t>;

struct Pair {
    Identity alice_id{}, bob_id{};
    Endpoint alice, bob;
    int bob_at_alice = -1, alice_at_bob = -1;
    uint8_t out[kMaxPacket];

    Pair() {
        identity_generate(alice_id);
        identity_generate(bob_id);
        alice.init(alice_id);
        bob.init(bob_id);
        bob_at_alice = alice.add_peer(bob_id.public_key);
        alice_at_bob = bob.add_peer(alice_id.public_key);
    }
    Bytes hello() {
        size_t n = alice.connect(bob_at_alice, out, sizeof out);
        return Bytes(out, out + n);
    }
    /// Runs the whole handshake (alice initiates); true when both ends are connected.
    bool handshake() {
        Bytes h = hello();
        Event w = bob.handle(h.data(), h.size(), out, sizeof out);
        if (w.kind != Event::Kind::Send) return false;
        Bytes welcome(out, out + w.length);
        Event c = alice.handle(welcome.data(), welcome.size(), out, sizeof out);
        if (c.kind != Event::Kind::Send || !c.established) return false;
        Bytes confirm(out, out + c.length);
        Event k = bob.handle(confirm.data(), confirm.size(), out, sizeof out);
        return k.established && alice.connected(bob_at_alice) && bob.connected(alice_at_bob);
    }
    static Bytes seal(Endpoint& from, int peer, const Bytes& msg) {
        uint8_t buf[kMaxPacket];
        size_t n = from.seal(peer, msg.data(), msg.size(), buf, sizeof buf);
        return Bytes(buf, buf + n);
    }
};

}  // namespace popek::netsec::testing
