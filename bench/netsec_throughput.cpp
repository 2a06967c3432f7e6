// Secure-net throughput (docs/secure-net.md): the protocol's data path next to raw libsodium
// XChaCha20-Poly1305 on the same message size in the same run, then host -> host through two
// unix datagram sockets (what `popek net-peer` and `--net dgram=` use), and handshakes per second.
//   netsec_throughput [MESSAGES] [MESSAGE_BYTES]
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "netsec_baselines.h"

using namespace popek;
using namespace popek::netsec;
using namespace bench;

namespace {

/// Endpoint::seal at alice + Endpoint::handle at bob (header, counter, replay window, lookup).
double endpoint_mb_s(long messages, size_t size) {
    testing::Pair p;
    if (!p.handshake()) std::abort();
    std::vector<uint8_t> msg(size, 0x42);
    uint8_t packet[kMaxPacket], out[kMaxPacket];
    double t0 = now_s();
    for (long i = 0; i < messages; ++i) {
        size_t n = p.alice.seal(p.bob_at_alice, msg.data(), size, packet, sizeof packet);
        if (p.bob.handle(packet, n, out, sizeof out).kind != Event::Kind::Message) std::abort();
    }
    return static_cast<double>(messages) * static_cast<double>(size) / (now_s() - t0) / 1e6;
}

double handshakes_per_s(int count) {
    double t0 = now_s();
    for (int i = 0; i < count; ++i) {
        testing::Pair p;   // two identities, then the full three-message handshake
        if (!p.handshake()) std::abort();
    }
    return count / (now_s() - t0);
}

}  // namespace

int main(int argc, char** argv) {
    long messages = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
    size_t size = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1400;
    if (size > data::kMaxMessage || sodium_init() < 0) return 2;
    std::printf("secure-net throughput, %ld messages of %zu bytes (libsodium %s)\n", messages, size, sodium_version_string());
    double raw = raw_aead_mb_s(messages, size);
    double endpoint = endpoint_mb_s(messages, size);
    double loss = 0;
    double dgram = dgram_mb_s(messages, size, &loss);
    std::printf("  raw XChaCha20-Poly1305 encrypt+decrypt (baseline) %8.1f MB/s\n", raw);
    std::printf("  Endpoint seal+handle, in memory                   %8.1f MB/s  (%.2fx of raw)\n", endpoint, endpoint / raw);
    std::printf("  host->host over unix datagrams, 2 threads         %8.1f MB/s  (%.2fx of raw; %.2f%% lost)\n", dgram,
                dgram / raw, loss * 100);
    std::printf("  handshakes (2 key pairs + 3 messages)             %8.0f /s\n", handshakes_per_s(200));
    return 0;
}
