// libFuzzer target: the secure-net packet parser and state machine (Endpoint::handle) and the
// Ethernet framing in front of it.
//
// The input is a sequence of records: [control][len][bytes]. Control bit 0: the bytes are a whole
// Ethernet frame (else a bare packet); bit 1: patch a live session's receiver index into a data
// packet (or a pending hello index into a welcome), so the fuzzer reaches the tag check and the
// replay window instead of stopping at "no session"; bit 2: send to alice instead of bob; bit 3:
// first seal a genuine message, then the record replaces its tail (splices). After every packet
// the drop accounting must hold: a Dropped event bumps exactly one counter.
// fuzz-sources: src/netsec/endpoint.cpp src/netsec/endpoint_handshake.cpp src/netsec/handshake.cpp
// fuzz-libs: -lsodium
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../unit/netsec_test_util.h"
#include "netsec/ether.h"

using namespace popek::netsec;

namespace {

uint64_t dropped_total(const Counters& c) {
    return c.dropped_malformed + c.dropped_bad_auth + c.dropped_replay + c.dropped_unknown_peer + c.dropped_no_session;
}

void feed(Endpoint& to, const uint8_t* packet, size_t len) {
    uint8_t out[kMaxPacket];
    uint64_t before = dropped_total(to.counters());
    Event e = to.handle(packet, len, out, sizeof out);
    uint64_t after = dropped_total(to.counters());
    if ((e.kind == Event::Kind::Dropped) != (after == before + 1)) __builtin_trap();
    if (e.kind != Event::Kind::Dropped && after != before) __builtin_trap();
    if ((e.kind == Event::Kind::Send || e.kind == Event::Kind::Message) && e.length > kMaxPacket) __builtin_trap();
}

testing::Pair& fuzz_pair() {
    static testing::Pair* pair = [] {
        auto* p = new testing::Pair;
        if (!p->handshake()) __builtin_trap();
        return p;
    }();
    return *pair;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    testing::Pair* pair = &fuzz_pair();
    size_t pos = 0;
    while (pos + 2 <= size) {
        uint8_t control = data[pos];
        size_t len = data[pos + 1] * size_t{8};
        pos += 2;
        len = len < size - pos ? len : size - pos;
        std::vector<uint8_t> bytes(data + pos, data + pos + len);
        pos += len;
        Endpoint& to = (control & 4) ? pair->alice : pair->bob;
        Endpoint& from = (control & 4) ? pair->bob : pair->alice;
        int peer_at_from = (control & 4) ? pair->alice_at_bob : pair->bob_at_alice;
        if (control & 8) {   // a genuine packet whose tail the record overwrites
            uint8_t sealed[kMaxPacket];
            size_t n = from.seal(peer_at_from, bytes.data(), bytes.size() / 2, sealed, sizeof sealed);
            std::vector<uint8_t> spliced(sealed, sealed + n);
            for (size_t i = 0; i < bytes.size() / 2 && i < spliced.size(); ++i) spliced[spliced.size() - 1 - i] ^= bytes[i];
            bytes = spliced;
        }
        if ((control & 2) && bytes.size() >= 8) {
            uint8_t sealed[kMaxPacket];
            if (from.seal(peer_at_from, nullptr, 0, sealed, sizeof sealed) != 0)
                std::memcpy(bytes.data() + 4, sealed + data::kReceiverIndex, 4);
        }
        if (control & 1) {
            const uint8_t* packet = nullptr;
            size_t packet_len = 0;
            if (frame_packet(bytes.data(), bytes.size(), &packet, &packet_len)) {
                if (packet < bytes.data() || packet + packet_len > bytes.data() + bytes.size()) __builtin_trap();
                feed(to, packet, packet_len);
            }
        } else {
            feed(to, bytes.data(), bytes.size());
        }
    }
    return 0;
}

#ifdef POPEK_FUZZ_STANDALONE
// ctest runner without libFuzzer (g++ builds): genuine hello, welcome and data packets as seeds,
// then a deterministic stream of mutations of them.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "seed_writer.h"

namespace {

std::vector<uint8_t> record(uint8_t control, const std::vector<uint8_t>& bytes) {
    size_t units = (bytes.size() + 7) / 8;
    std::vector<uint8_t> r(2 + units * 8, 0);
    r[0] = control;
    r[1] = static_cast<uint8_t>(units);
    std::memcpy(r.data() + 2, bytes.data(), bytes.size());
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10000;
    testing::Pair seeds_pair;
    std::vector<std::vector<uint8_t>> seeds;
    std::vector<uint8_t> hello = seeds_pair.hello();
    seeds.push_back(record(0, hello));
    uint8_t out[kMaxPacket];
    Event w = seeds_pair.bob.handle(hello.data(), hello.size(), out, sizeof out);
    seeds.push_back(record(4, std::vector<uint8_t>(out, out + w.length)));
    std::vector<uint8_t> frame(kFrameHeader + hello.size());
    frame_header(frame.data(), kBroadcastMac, kBroadcastMac, hello.size());
    std::memcpy(frame.data() + kFrameHeader, hello.data(), hello.size());
    seeds.push_back(record(1, frame));
    std::vector<uint8_t> data_packet(data::kHeader + kTagBytes + 40, 0);
    data_packet[0] = 3;
    data_packet[1] = 1;
    seeds.push_back(record(2, data_packet));
    seeds.push_back(record(8, std::vector<uint8_t>(64, 0x11)));
    std::mt19937 rng(12345);
    if (argc > 2 && !popek::fuzz::write_seeds(argv[2], seeds)) return 1;  // `0 DIR`: the seed corpus
    for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> in = seeds[rng() % seeds.size()];
        popek::fuzz::mutate(in, rng);
        LLVMFuzzerTestOneInput(in.data(), in.size());
    }
    const Counters& c = fuzz_pair().bob.counters();
    std::printf("fuzz_netsec: %ld inputs, no crash; at bob: %llu messages, %llu keepalives, dropped %llu malformed, "
                "%llu bad-auth, %llu replay, %llu unknown-peer, %llu no-session\n",
                iterations, (unsigned long long)c.rx_messages, (unsigned long long)c.rx_keepalives,
                (unsigned long long)c.dropped_malformed, (unsigned long long)c.dropped_bad_auth,
                (unsigned long long)c.dropped_replay, (unsigned long long)c.dropped_unknown_peer,
                (unsigned long long)c.dropped_no_session);
    return 0;
}
#endif
