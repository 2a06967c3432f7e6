#pragma once
// Secure-net baselines shared by bench/netsec_throughput.cpp and bench/guest_net_bench.cpp
// (docs/secure-net.md "Figures"): the bare AEAD on the host, and host -> host over unix datagrams.
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

namespace bench {

using namespace popek;
using namespace popek::netsec;

inline double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// Encrypt + decrypt with the bare AEAD: the floor any protocol built on it pays.
inline double raw_aead_mb_s(long messages, size_t size) {
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

/// Sender thread seals and frames into a unix datagram socket; the receiver thread authenticates.
inline double dgram_mb_s(long messages, size_t size, double* loss) {
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

}  // namespace bench
