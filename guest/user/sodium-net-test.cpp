/// sodium-net-test: the secure-net protocol (src/netsec, docs/secure-net.md) compiled for ring 3
/// from the same sources as popek's, run between two identities inside one popek-os process:
/// handshake, messages both ways, a tampered, a replayed and an unauthenticated packet (dropped and
/// counted), and the data path's throughput measured on the kernel's clock.
#include <sodium.h>

#include <new>

#include "netsec/endpoint.h"
#include "rt/ulib.h"
#include "sodium_shim/shim.h"

using namespace pos;
using namespace popek::netsec;

namespace {

struct Link {
    Endpoint alice, bob;
    int bob_at_alice = -1, alice_at_bob = -1;
    uint8_t packet[kMaxPacket], out[kMaxPacket];
};

bool handshake(Link& l) {
    size_t n = l.alice.connect(l.bob_at_alice, l.packet, sizeof l.packet);
    Event w = l.bob.handle(l.packet, n, l.out, sizeof l.out);
    if (w.kind != Event::Kind::Send) return false;
    memcpy(l.packet, l.out, w.length);
    Event c = l.alice.handle(l.packet, w.length, l.out, sizeof l.out);
    if (!c.established) return false;
    memcpy(l.packet, l.out, c.length);
    return l.bob.handle(l.packet, c.length, l.out, sizeof l.out).established;
}

/// Seals `text` at `from`, delivers it at `to`; prints what arrived or why it was dropped.
Event deliver(Endpoint& from, int peer, Endpoint& to, const char* text, uint8_t flip_at = 0) {
    uint8_t packet[kMaxPacket], out[kMaxPacket];
    size_t n = from.seal(peer, reinterpret_cast<const uint8_t*>(text), strlen(text), packet, sizeof packet);
    if (flip_at) packet[flip_at] ^= 1;
    Event e = to.handle(packet, n, out, sizeof out);
    if (e.kind == Event::Kind::Message) {
        out[e.length] = 0;
        print("received \"%s\"\n", reinterpret_cast<const char*>(out));
    }
    return e;
}

}  // namespace

int main(int, char**) {
    if (pos_sodium_init() < 0) {
        print("sodium-net-test: sodium_init failed\n");
        return 1;
    }
    // ~16 KiB, kept off the stack; never destroyed (no atexit in popek-os programs).
    alignas(Link) static unsigned char link_storage[sizeof(Link)];
    Link& l = *new (link_storage) Link;
    Identity alice_id, bob_id;
    identity_generate(alice_id);
    identity_generate(bob_id);
    l.alice.init(alice_id);
    l.bob.init(bob_id);
    l.bob_at_alice = l.alice.add_peer(bob_id.public_key);
    l.alice_at_bob = l.bob.add_peer(alice_id.public_key);
    bool ok = handshake(l);
    print("handshake: %s\n", ok ? "ok" : "FAILED");
    if (!ok) return 1;
    deliver(l.alice, l.bob_at_alice, l.bob, "hello from alice");
    deliver(l.bob, l.alice_at_bob, l.alice, "hello from bob");
    Event t = deliver(l.alice, l.bob_at_alice, l.bob, "tampered", data::kHeader + 2);
    print("tampered: %s\n", t.drop == Drop::BadAuth ? "dropped (bad-auth)" : "ACCEPTED");

    size_t n = l.alice.seal(l.bob_at_alice, reinterpret_cast<const uint8_t*>("once"), 4, l.packet, sizeof l.packet);
    l.bob.handle(l.packet, n, l.out, sizeof l.out);
    Event r = l.bob.handle(l.packet, n, l.out, sizeof l.out);
    print("replayed: %s\n", r.drop == Drop::Replay ? "dropped (replay)" : "ACCEPTED");

    alignas(Endpoint) static unsigned char stranger_storage[sizeof(Endpoint)];
    Endpoint& stranger = *new (stranger_storage) Endpoint;
    Identity stranger_id;
    identity_generate(stranger_id);
    stranger.init(stranger_id);
    n = stranger.connect(stranger.add_peer(bob_id.public_key), l.packet, sizeof l.packet);
    Event u = l.bob.handle(l.packet, n, l.out, sizeof l.out);
    print("stranger: %s\n", u.drop == Drop::UnknownPeer ? "dropped (unknown-peer)" : "ACCEPTED");

    const Counters& c = l.bob.counters();
    print("bob counters: messages %lu keepalives %lu bad-auth %lu replay %lu unknown-peer %lu\n",
          static_cast<unsigned long>(c.rx_messages), static_cast<unsigned long>(c.rx_keepalives),
          static_cast<unsigned long>(c.dropped_bad_auth), static_cast<unsigned long>(c.dropped_replay),
          static_cast<unsigned long>(c.dropped_unknown_peer));

    // Throughput of seal + handle for 1400-byte messages, at least 200 ms on the kernel's clock.
    static uint8_t message[1400];
    long start = sys::uptime_ms(), elapsed = 0;
    unsigned long messages = 0;
    while (elapsed < 200) {
        for (int i = 0; i < 256; ++i, ++messages) {
            n = l.alice.seal(l.bob_at_alice, message, sizeof message, l.packet, sizeof l.packet);
            if (l.bob.handle(l.packet, n, l.out, sizeof l.out).kind != Event::Kind::Message) return 1;
        }
        elapsed = sys::uptime_ms() - start;
    }
    unsigned long kb_per_s = messages * sizeof message / static_cast<unsigned long>(elapsed);
    print("throughput: %lu messages of 1400 bytes in %ld ms = %lu KB/s\n", messages, elapsed, kb_per_s);
    bool all = t.drop == Drop::BadAuth && r.drop == Drop::Replay && u.drop == Drop::UnknownPeer;
    return all ? 0 : 1;
}
