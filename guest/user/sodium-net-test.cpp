/// sodium-net-test: the secure-net protocol (src/netsec, docs/secure-net.md) compiled for ring 3
/// from the same sources as popek's, run between two identities inside one popek-os process:
/// handshake, messages both ways, a tampered, a replayed and an unauthenticated packet (dropped and
/// counted), and the data path's throughput measured on the kernel's clock.
#include <sodium.h>

#include <new>

#include "netsec/endpoint.h"
#include "netsec/net_service.h"
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

/// A wire between two NetServices: frames wait here until pumped to the other side.
struct Wire {
    uint8_t frames[8][kMaxFrame];
    size_t lengths[8];
    int count = 0;
};

void to_wire(void* wire, const uint8_t* frame, size_t len) {
    auto* w = static_cast<Wire*>(wire);
    if (w->count == 8) return;   // a full link loses frames
    memcpy(w->frames[w->count], frame, len);
    w->lengths[w->count++] = len;
}

void pump(Wire& w, NetService& to) {
    for (int i = 0; i < w.count; ++i) to.on_frame(w.frames[i], w.lengths[i]);
    w.count = 0;
}

/// netd's core (NetService) on both ends: a connect channel and an accept channel, through frames.
bool channel_test(const Identity& a, const Identity& b) {
    alignas(Wire) static unsigned char wire_storage[2][sizeof(Wire)];
    Wire& a_to_b = *new (wire_storage[0]) Wire;
    Wire& b_to_a = *new (wire_storage[1]) Wire;
    alignas(NetService) static unsigned char service_storage[2][sizeof(NetService)];
    NetService& sa = *new (service_storage[0]) NetService(to_wire, &a_to_b);
    NetService& sb = *new (service_storage[1]) NetService(to_wire, &b_to_a);
    int ia = static_cast<int>(sa.add_identity(a)), ib = static_cast<int>(sb.add_identity(b));
    int accept = static_cast<int>(sb.open(ib, a.public_key, false, 0));
    int connect = static_cast<int>(sa.open(ia, b.public_key, true, 0));
    for (int round = 0; round < 3; ++round) {
        pump(a_to_b, sb);
        pump(b_to_a, sa);
    }
    const char text[] = "through the channel";
    if (sa.send(connect, reinterpret_cast<const uint8_t*>(text), sizeof text - 1) < 0) return false;
    pump(a_to_b, sb);
    uint8_t buf[data::kMaxMessage + 1];
    long n = sb.recv(accept, buf, sizeof buf - 1);
    if (n < 0) return false;
    buf[n] = 0;
    print("channel: received \"%s\"\n", reinterpret_cast<const char*>(buf));
    return true;
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

    bool channel_ok = channel_test(alice_id, bob_id);
    if (!channel_ok) print("channel: FAILED\n");

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
    bool all = channel_ok && t.drop == Drop::BadAuth && r.drop == Drop::Replay && u.drop == Drop::UnknownPeer;
    return all ? 0 : 1;
}
