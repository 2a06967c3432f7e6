#pragma once
/// The key schedule of the handshake (docs/secure-net.md "Handshake"): a chaining key that absorbs
/// public keys, X25519 results and tags through keyed BLAKE2b (crypto_generichash), and subkeys
/// drawn from it with crypto_kdf_derive_from_key. Every primitive is libsodium's. Portable.
#include <stddef.h>
#include <stdint.h>

#include "netsec/wire.h"

namespace popek::netsec {

/// Subkey ids drawn from the chain (crypto_kdf ids, context "popeknet").
enum class ChainKeyId : uint64_t { Hello = 1, Welcome = 2, InitiatorToResponder = 3, ResponderToInitiator = 4 };

class Chain {
public:
    ~Chain() { wipe(); }
    /// ck = BLAKE2b-256("popek-net v1 KK" || initiator static || responder static).
    void init(const uint8_t initiator_static[kKeyBytes], const uint8_t responder_static[kKeyBytes]);
    /// ck = BLAKE2b-256(key = ck, data).
    void mix(const uint8_t* data, size_t len);
    /// Mixes X25519(secret, public); false (chain unchanged) when the result is all zero
    /// (a low-order point from a hostile peer).
    [[nodiscard]] bool mix_dh(const uint8_t secret[kKeyBytes], const uint8_t public_key[kKeyBytes]);
    void derive(uint8_t out[kKeyBytes], ChainKeyId id) const;
    void wipe();

private:
    uint8_t m_ck[kKeyBytes] = {};
};

/// When an unanswered Hello is sent again (docs/secure-net.md "Hello retries"). A retry starts a
/// new handshake (Endpoint::connect: new ephemeral key and index), so the Welcome to the previous
/// Hello is no longer routable. With a fixed interval shorter than the round trip — the
/// responder's five X25519 operations on a slow or loaded CPU, e.g. popek-os under the
/// interpreter — every Welcome would answer a forgotten Hello and the handshake would never
/// complete. So the delay doubles from kHelloRetryFirstMs up to kHelloRetryMaxMs: any round
/// trip below the cap completes after a few retries, a lost packet on a fast link still costs
/// only the first delay.
inline constexpr uint64_t kHelloRetryFirstMs = 200;
inline constexpr uint64_t kHelloRetryMaxMs = 3200;
/// The delay before the next Hello, after `hellos_sent` (>= 1) Hellos went unanswered.
constexpr uint64_t hello_retry_delay_ms(unsigned hellos_sent) {
    uint64_t delay = kHelloRetryFirstMs;
    for (unsigned i = 1; i < hellos_sent && delay < kHelloRetryMaxMs; ++i) delay *= 2;
    return delay < kHelloRetryMaxMs ? delay : kHelloRetryMaxMs;
}

/// XChaCha20-Poly1305 of the empty message under a one-time handshake key (zero nonce): the
/// 16-byte tag authenticates `ad`.
void handshake_tag(const uint8_t key[kKeyBytes], const uint8_t* ad, size_t ad_len, uint8_t tag[kTagBytes]);
[[nodiscard]] bool handshake_tag_ok(const uint8_t key[kKeyBytes], const uint8_t* ad, size_t ad_len,
                                    const uint8_t tag[kTagBytes]);

}  // namespace popek::netsec
