// Secure-net throughput (docs/secure-net.md): the protocol's data path next to raw libsodium
// XChaCha20-Poly1305 on the same message size in the same run, then host -> host through two
// unix datagram sockets (what `popek net-peer` and `--net dgram=` use), and handshakes per second.
//   netsec_throughput [MESSAGES] [MESSAGE_BYTES]
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../tests/unit/netsec_test_util.h"
#include "netsec/ether.h"
#include "util/unix_dgram.h"

using namespace popek;
using namespace popek::netsec;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// Encrypt + decrypt with the bare AEAD: the floor any protocol built on it pays.
double raw_aead_mb_s(long messages, size_t size) {
    std::vector<uint8_t> msg(size, 0x42), sealed(size + kTagBytes), opened(size);
    uint8_t key[kKeyBytes], nonce[kNonceBytes] = {}, ad[16] = {};
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    double t0 = now_s();
    for (long i = 0; i < messages; ++i) {
        put_le64(nonce, static_cast<uint64_t>(i));
        unsigned long long clen = 0, mlen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), &clen, msg.data(), size, ad, sizeof ad, nullptr, nonce, key);
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(opened.data(), &mlen, nullptr, sealed.data(), clen, ad, sizeof ad, nonce, key) != 0)
            std::abort();
    }
    return static_cast<double>(messages) * static_cast<double>(size) / (now_s() - t0) / 1e6;
}

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

/// Sender thread seals and frames into a unix datagram socket; the receiver thread authenticates.
double dgram_mb_s(long messages, size_t size, double* loss) {
    testing::Pair p;
    if (!p.handshake()) std::abort();
    char tmpl[] = "/tmp/popek-netsec-bench-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    auto tx = UnixDgramSocket::open(dir + "/a", dir + "/b");
    auto rx = UnixDgramSocket::open(dir + "/b", dir + "/a");
    if (!tx || !rx) std::abort();
    std::atomic<long> received{0};
    std::atomic<bool> done{false};
    double t0 = now_s();
    std::thread receiver([&] {
        uint8_t frame[kMaxFrame], out[kMaxPacket];
        while (!done.load() || received.load() < messages) {
            auto got = rx->receive(frame, 200);
            if (!got || !*got) {
                if (done.load()) break;
                continue;
            }
            const uint8_t* packet;
            size_t len;
            if (frame_packet(frame, **got, &packet, &len) &&
                p.bob.handle(packet, len, out, sizeof out).kind == Event::Kind::Message)
                received.fetch_add(1);
        }
    });
    std::vector<uint8_t> msg(size, 0x42);
    uint8_t frame[kMaxFrame];
    for (long i = 0; i < messages; ++i) {
        size_t n = p.alice.seal(p.bob_at_alice, msg.data(), size, frame + kFrameHeader, kMaxPacket);
        frame_header(frame, kBroadcastMac, kBroadcastMac, n);
        while (!tx->send(std::span<const uint8_t>(frame, kFrameHeader + n))) std::this_thread::yield();   // queue full
    }
    done = true;
    receiver.join();
    double elapsed = now_s() - t0;
    *loss = 1.0 - static_cast<double>(received.load()) / static_cast<double>(messages);
    std::remove((dir + "/a").c_str());
    std::remove((dir + "/b").c_str());
    std::remove(dir.c_str());
    return static_cast<double>(received.load()) * static_cast<double>(size) / elapsed / 1e6;
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
