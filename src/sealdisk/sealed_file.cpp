// popek sealed files: one AEAD message per file, bound to its path (docs/guest-os.md "Storage").
#include "sealdisk/sealed_file.h"

#include <sodium.h>

namespace popek::sealdisk {
namespace {

constexpr char kFilesLabel[] = "popek sealed files v1";

/// Subkey 3 of the files' key root (keyed BLAKE2b of a label with the secret), apart from any disk's keys.
void file_key(const uint8_t secret[kSecretBytes], uint8_t key[32]) {
    uint8_t root[crypto_kdf_KEYBYTES];
    crypto_generichash(root, sizeof root, reinterpret_cast<const uint8_t*>(kFilesLabel), sizeof kFilesLabel, secret,
                       kSecretBytes);
    crypto_kdf_derive_from_key(key, 32, 3, kKdfContext, root);
    sodium_memzero(root, sizeof root);
}

/// Associated data: the header and the path, hashed (the path's length is not bounded here).
void associated_data(const uint8_t* header, const char* path, uint8_t ad[32]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, 32);
    crypto_generichash_update(&st, header, kFileHeaderBytes);
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(path), __builtin_strlen(path));
    crypto_generichash_final(&st, ad, 32);
}

}  // namespace

const char* file_status_name(FileStatus s) {
    switch (s) {
        case FileStatus::Ok: return "ok";
        case FileStatus::Integrity: return "integrity check failed (modified, moved, or another key)";
        case FileStatus::BadFormat: return "not a popek sealed file";
        case FileStatus::TooSmall: return "too large";
        case FileStatus::Crypto: return "libsodium unavailable";
    }
    return "?";
}

FileStatus seal_file(const uint8_t secret[kSecretBytes], const char* path, const uint8_t* plain, size_t len,
                     uint8_t* out, size_t cap, size_t* out_len) {
    if (sodium_init() < 0) return FileStatus::Crypto;
    if (cap < kFileOverhead || len > cap - kFileOverhead) return FileStatus::TooSmall;
    __builtin_memcpy(out, kFileMagic, sizeof kFileMagic);
    store_le32(out + 8, 1);
    store_le32(out + 12, kCipherXChaCha20Poly1305);
    randombytes_buf(out + 16, 24);
    uint8_t key[32], ad[32];
    file_key(secret, key);
    associated_data(out, path, ad);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + kFileHeaderBytes, &clen, plain, len, ad, sizeof ad, nullptr,
                                               out + 16, key);
    sodium_memzero(key, sizeof key);
    *out_len = kFileHeaderBytes + static_cast<size_t>(clen);
    return FileStatus::Ok;
}

FileStatus open_file(const uint8_t secret[kSecretBytes], const char* path, const uint8_t* sealed, size_t len,
                     uint8_t* out, size_t cap, size_t* out_len) {
    if (sodium_init() < 0) return FileStatus::Crypto;
    if (len < kFileHeaderBytes || __builtin_memcmp(sealed, kFileMagic, sizeof kFileMagic) != 0 ||
        load_le32(sealed + 8) != 1 || load_le32(sealed + 12) != kCipherXChaCha20Poly1305)
        return FileStatus::BadFormat;
    if (len < kFileOverhead) return FileStatus::Integrity;   // the tag is cut off
    if (len - kFileOverhead > cap) return FileStatus::TooSmall;
    uint8_t key[32], ad[32];
    file_key(secret, key);
    associated_data(sealed, path, ad);
    unsigned long long mlen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, nullptr, sealed + kFileHeaderBytes,
                                                        len - kFileHeaderBytes, ad, sizeof ad, sealed + 16, key);
    sodium_memzero(key, sizeof key);
    if (rc != 0) return FileStatus::Integrity;
    *out_len = static_cast<size_t>(mlen);
    return FileStatus::Ok;
}

}  // namespace popek::sealdisk
