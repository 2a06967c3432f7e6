#include "netsec/handshake.h"

#include <sodium.h>

namespace popek::netsec {
namespace {
constexpr char kProtocolLabel[] = "popek-net v1 KK";
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "popeknet";
static_assert(crypto_kdf_KEYBYTES == kKeyBytes && crypto_scalarmult_BYTES == kKeyBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kTagBytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kNonceBytes);
}  // namespace

void Chain::init(const uint8_t initiator_static[kKeyBytes], const uint8_t responder_static[kKeyBytes]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, kKeyBytes);
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kProtocolLabel), sizeof kProtocolLabel - 1);
    crypto_generichash_update(&st, initiator_static, kKeyBytes);
    crypto_generichash_update(&st, responder_static, kKeyBytes);
    crypto_generichash_final(&st, m_ck, kKeyBytes);
    sodium_memzero(&st, sizeof st);
}

void Chain::mix(const uint8_t* data, size_t len) {
    uint8_t next[kKeyBytes];
    crypto_generichash(next, kKeyBytes, data, len, m_ck, kKeyBytes);
    __builtin_memcpy(m_ck, next, kKeyBytes);
    sodium_memzero(next, sizeof next);
}

bool Chain::mix_dh(const uint8_t secret[kKeyBytes], const uint8_t public_key[kKeyBytes]) {
    uint8_t shared[kKeyBytes];
    // crypto_scalarmult fails (-1) when the result is all zero: the peer sent a low-order point.
    bool ok = crypto_scalarmult(shared, secret, public_key) == 0;
    if (ok) mix(shared, kKeyBytes);
    sodium_memzero(shared, sizeof shared);
    return ok;
}

void Chain::derive(uint8_t out[kKeyBytes], ChainKeyId id) const {
    crypto_kdf_derive_from_key(out, kKeyBytes, static_cast<uint64_t>(id), kKdfContext, m_ck);
}

void Chain::wipe() { sodium_memzero(m_ck, sizeof m_ck); }

void handshake_tag(const uint8_t key[kKeyBytes], const uint8_t* ad, size_t ad_len, uint8_t tag[kTagBytes]) {
    const uint8_t nonce[kNonceBytes] = {};
    unsigned long long tag_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(tag, &tag_len, nullptr, 0, ad, ad_len, nullptr, nonce, key);
}

bool handshake_tag_ok(const uint8_t key[kKeyBytes], const uint8_t* ad, size_t ad_len, const uint8_t tag[kTagBytes]) {
    const uint8_t nonce[kNonceBytes] = {};
    unsigned long long out_len = 0;
    uint8_t none[1];
    return crypto_aead_xchacha20poly1305_ietf_decrypt(none, &out_len, nullptr, tag, kTagBytes, ad, ad_len, nonce,
                                                      key) == 0;
}

}  // namespace popek::netsec
