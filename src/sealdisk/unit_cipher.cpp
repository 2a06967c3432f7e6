// popek sealed disk: per-unit AEADs (unit_cipher.h; docs/guest-os.md "On-disk format").
#include "sealdisk/unit_cipher.h"

#include <sodium.h>

namespace popek::sealdisk {
namespace {

static_assert(sizeof(crypto_aead_aes256gcm_state) <= 512 && alignof(crypto_aead_aes256gcm_state) <= 16);
static_assert(crypto_aead_aes256gcm_ABYTES == kTagBytes && crypto_aead_xchacha20poly1305_ietf_ABYTES == kTagBytes);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12 && crypto_kdf_KEYBYTES == kUnitKeyBytes);
constexpr char kGcmKdfContext[crypto_kdf_CONTEXTBYTES] = {'p', 'o', 'p', 'e', 'k', 'g', 'c', 'm'};

crypto_aead_aes256gcm_state* gcm(uint8_t* opaque) { return reinterpret_cast<crypto_aead_aes256gcm_state*>(opaque); }

/// A unit's associated data (unit index ‖ version, both ciphers: a unit opens only at its own
/// address and version) and nonce (unit_cipher.h: AES-256-GCM uses the first 12 bytes).
struct UnitNonce {
    uint8_t ad[16];
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
};

UnitNonce unit_nonce(uint32_t cipher, uint64_t unit, const uint8_t* entry) {
    static_assert(crypto_aead_aes256gcm_NPUBBYTES <= crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    UnitNonce n{};
    const uint64_t version = load_le64(entry);
    store_le64(n.ad, unit);
    store_le64(n.ad + 8, version);
    if (cipher == kCipherAes256Gcm) {
        store_le64(n.nonce, unit);
        store_le32(n.nonce + 8, static_cast<uint32_t>(version));
    } else {
        __builtin_memcpy(n.nonce, entry + 8, 8);
        store_le64(n.nonce + 8, unit);
        store_le64(n.nonce + 16, version);
    }
    return n;
}

bool g_hide_aes = false;

}  // namespace

void hide_aes_for_testing(bool hide) { g_hide_aes = hide; }

bool cipher_available(uint32_t cipher) {
    if (cipher == kCipherXChaCha20Poly1305) return true;
    if (cipher == kCipherAes256Gcm) return !g_hide_aes && crypto_aead_aes256gcm_is_available() == 1;
    return false;
}

uint32_t preferred_cipher() {
    return cipher_available(kCipherAes256Gcm) ? kCipherAes256Gcm : kCipherXChaCha20Poly1305;
}

void UnitCipher::init(uint32_t cipher, const uint8_t key[kUnitKeyBytes]) {
    clear();
    m_cipher = cipher;
    __builtin_memcpy(m_key, key, kUnitKeyBytes);
}

void UnitCipher::clear() {
    sodium_memzero(m_key, sizeof m_key);
    sodium_memzero(m_gcm_state, sizeof m_gcm_state);
    m_salt_cached = false;
    m_cipher = 0;
}

void UnitCipher::select_salt(const uint8_t* salt) {
    if (m_salt_cached && __builtin_memcmp(m_salt, salt, sizeof m_salt) == 0) return;
    uint8_t subkey[crypto_aead_aes256gcm_KEYBYTES];
    crypto_kdf_derive_from_key(subkey, sizeof subkey, load_le64(salt), kGcmKdfContext, m_key);
    crypto_aead_aes256gcm_beforenm(gcm(m_gcm_state), subkey);
    sodium_memzero(subkey, sizeof subkey);
    __builtin_memcpy(m_salt, salt, sizeof m_salt);
    m_salt_cached = true;
}

void UnitCipher::seal(uint64_t unit, const uint8_t* entry, const uint8_t* plain, uint8_t* out, uint8_t tag[kTagBytes]) {
    const UnitNonce n = unit_nonce(m_cipher, unit, entry);
    if (m_cipher == kCipherAes256Gcm) {
        select_salt(entry + 8);
        crypto_aead_aes256gcm_encrypt_detached_afternm(out, tag, nullptr, plain, kUnitBytes, n.ad, sizeof n.ad, nullptr,
                                                       n.nonce, gcm(m_gcm_state));
        return;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, tag, nullptr, plain, kUnitBytes, n.ad, sizeof n.ad, nullptr,
                                                        n.nonce, m_key);
}

bool UnitCipher::open(uint64_t unit, const uint8_t* entry, uint8_t* data) {
    const UnitNonce n = unit_nonce(m_cipher, unit, entry);
    const uint8_t* tag = entry + 16;
    if (m_cipher == kCipherAes256Gcm) {
        select_salt(entry + 8);
        return crypto_aead_aes256gcm_decrypt_detached_afternm(data, nullptr, data, kUnitBytes, tag, n.ad, sizeof n.ad,
                                                              n.nonce, gcm(m_gcm_state)) == 0;
    }
    if (m_cipher != kCipherXChaCha20Poly1305) return false;
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(data, nullptr, data, kUnitBytes, tag, n.ad, sizeof n.ad,
                                                               n.nonce, m_key) == 0;
}

}  // namespace popek::sealdisk
