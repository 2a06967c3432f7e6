#pragma once
/// popek sealed disk: the AEAD of one 4 KiB unit for each cipher id of format version 2
/// (format.h; docs/guest-os.md "On-disk format"), behind one interface. Both take the unit's
/// leaf entry (version, nonce salt) and bind the unit index and version as associated data:
///   cipher 1  XChaCha20-Poly1305 under the volume's encryption key; nonce (24 bytes) = salt ‖
///             unit (8, LE) ‖ version (8, LE).
///   cipher 2  AES-256-GCM (libsodium's AES-NI + PCLMULQDQ code, the only one it has) under a
///             subkey of the salt: K_s = crypto_kdf_derive_from_key(encryption key, id = salt as
///             u64 LE, context "popekgcm"); nonce (12 bytes) = unit (8, LE) ‖ version low 32 bits
///             (4, LE). A write call draws a fresh random salt, so every call seals under a fresh
///             key and the nonce only has to be unique within a call (the units differ); a
///             (key, nonce) pair repeats only if two calls draw the same 64-bit salt (birthday
///             bound: ~2^32 write calls), also after a whole-disk rollback repeats versions.
/// The expanded AES state of the last salt is cached: a call's units (and reading them back)
/// derive it once. Portable and allocation-free; libsodium only. Not thread-safe.
#include <stddef.h>
#include <stdint.h>

#include "sealdisk/format.h"

namespace popek::sealdisk {

constexpr size_t kUnitKeyBytes = 32;

/// Whether this CPU runs `cipher` (libsodium's CPU detection; sodium_init() first). Cipher 2
/// needs AES-NI and PCLMULQDQ; unknown ids are never available.
bool cipher_available(uint32_t cipher);
/// What format() picks: AES-256-GCM where the CPU has it, XChaCha20-Poly1305 otherwise.
uint32_t preferred_cipher();
/// Tests only: makes AES-256-GCM unavailable (a CPU without AES-NI) until called with false.
void hide_aes_for_testing(bool hide);

class UnitCipher {
public:
    UnitCipher() = default;
    ~UnitCipher() { clear(); }
    UnitCipher(const UnitCipher&) = delete;
    UnitCipher& operator=(const UnitCipher&) = delete;

    /// Keys the cipher (the key is copied); forgets any cached subkey. `cipher` must be available.
    void init(uint32_t cipher, const uint8_t key[kUnitKeyBytes]);
    /// Wipes the key and the cached state.
    void clear();
    uint32_t cipher() const { return m_cipher; }

    /// Seals kUnitBytes of `plain` into `out` (may be the same buffer) as unit `unit` with the
    /// version and salt of `entry` (bytes 0..15 of its leaf entry); the tag into `tag`.
    void seal(uint64_t unit, const uint8_t* entry, const uint8_t* plain, uint8_t* out, uint8_t tag[kTagBytes]);
    /// Opens unit `unit` in place against `entry` (version, salt, tag); false if it does not verify.
    bool open(uint64_t unit, const uint8_t* entry, uint8_t* data);

private:
    /// The AES-256-GCM state for `salt`: derived unless it is the cached one.
    void select_salt(const uint8_t* salt);

    uint32_t m_cipher = 0;
    uint8_t m_key[kUnitKeyBytes] = {};
    alignas(16) uint8_t m_gcm_state[512] = {};   ///< crypto_aead_aes256gcm_state (static_assert in .cpp)
    uint8_t m_salt[8] = {};
    bool m_salt_cached = false;
};

}  // namespace popek::sealdisk
