#pragma once
/// popek sealed disk: an encrypted, authenticated block layer over any sector device
/// (docs/guest-os.md "Storage"). Each 4 KiB unit of data sectors is AEAD ciphertext (XChaCha20-Poly1305
/// or AES-256-GCM, the header's cipher; unit_cipher.h) whose nonce and associated data carry the
/// unit's address and its version; the versions and tags live in a
/// tree of keyed BLAKE2b-256 hashes whose root is in the header, and the header is MACed with a
/// key derived from the caller's secret. So a modified, moved (swapped) or rolled-back unit, or
/// tree node, fails to verify: the read reports Status::Integrity. What this cannot detect is the
/// whole disk rolled back to an earlier consistent state (header and all).
///
/// The whole tree is read and verified at mount and kept in a buffer the caller provides (the
/// guest keeps the authenticated state; a back end that changes a node afterwards changes nothing
/// the volume reads). Portable and allocation-free; libsodium only. Not thread-safe.
#include <stddef.h>
#include <stdint.h>

#include "sealdisk/format.h"
#include "sealdisk/unit_cipher.h"

namespace popek::sealdisk {

constexpr size_t kSecretBytes = 32;

/// The disk underneath: whole-sector reads and writes; each returns 0 or a negative error.
struct SectorDevice {
    void* context = nullptr;
    uint64_t sectors = 0;
    long (*read)(void* context, uint64_t sector, void* buf, uint64_t count) = nullptr;
    long (*write)(void* context, uint64_t sector, const void* buf, uint64_t count) = nullptr;
};

enum class Status : uint8_t {
    Ok,
    Integrity,      ///< a MAC, tag or tree hash did not verify: modified, moved or rolled back
    NotFormatted,   ///< sector 0 is all zero (format() initialises it)
    BadFormat,      ///< the header is not a valid v2 header (parse_error() says why)
    Io,             ///< the device failed (or a write failed half-way: remount)
    Range,          ///< sector outside the volume
    TooLarge,       ///< the tree does not fit the caller's buffer, or the disk is too small
    Crypto,         ///< libsodium could not initialise
    NotMounted,
    CipherUnavailable,   ///< the disk's (or the requested) cipher does not run on this CPU (AES-256-GCM without AES-NI)
};
const char* status_name(Status s);

class Volume {
public:
    static constexpr uint32_t kChunkSectors = 128;   ///< sectors sealed per device write (64 KiB, 16 units)
    static constexpr uint32_t kChunkUnits = kChunkSectors / kUnitSectors;

    Volume() = default;
    ~Volume();
    Volume(const Volume&) = delete;
    Volume& operator=(const Volume&) = delete;

    /// Reads and verifies the header and the whole tree. `tree` (tree_bytes) holds the nodes from
    /// then on; it must outlive the volume.
    Status mount(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes);
    /// mkfs: a fresh disk id, a zero tree (every sector unwritten, reads as zeros), generation 1.
    /// The volume is the largest that fits the device and the tree buffer; mounted afterwards.
    /// `cipher` 0 picks preferred_cipher(); a cipher this CPU lacks is CipherUnavailable.
    Status format(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes,
                  uint32_t cipher = 0);

    /// `count` sectors from `first` of the volume; whole units are read and verified. Integrity
    /// names in bad_sector() the first requested sector of the unit that failed (the buffer is
    /// zeroed from that sector on: no unauthenticated byte is handed out).
    Status read(uint64_t first, void* buf, uint64_t count);
    /// Encrypts and writes, then updates the tree path and the header (one header write per call).
    /// A unit only partly covered is read, verified and re-sealed with the new sectors; if it does
    /// not verify the write stops there with Integrity (the units before it are committed).
    Status write(uint64_t first, const void* buf, uint64_t count);

    bool mounted() const { return m_mounted; }
    const Header& header() const { return m_header; }
    const Geometry& geometry() const { return m_geometry; }
    uint64_t bad_sector() const { return m_bad_sector; }
    ParseError parse_error() const { return m_parse_error; }
    /// Node whose hash failed at mount (or ~0).
    uint64_t bad_node() const { return m_bad_node; }

private:
    Status load(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes);
    void derive_keys(const uint8_t secret[kSecretBytes]);
    void hash_node(uint64_t node, uint8_t out[kHashBytes]) const;
    void header_mac(const uint8_t sector[kSectorSize], uint8_t out[kHashBytes]) const;
    uint8_t* node(uint64_t n) const { return m_tree + n * kSectorSize; }
    uint8_t* entry(uint64_t unit) const;
    /// Decrypts and verifies unit `unit` in place (zeros for a never-written unit); false, and the
    /// unit zeroed, if it does not verify.
    bool open_unit(uint64_t unit, uint8_t* data);
    uint8_t* parent_slot(uint32_t level, uint64_t index);
    /// Rehashes leaves [first_leaf, last_leaf] up to the root, writes those nodes and the header.
    Status commit(uint64_t first_leaf, uint64_t last_leaf);
    Status write_header();
    Status fail(Status s);

    SectorDevice m_dev{};
    Header m_header{};
    Geometry m_geometry{};
    uint8_t* m_tree = nullptr;
    UnitCipher m_cipher;
    uint8_t m_mac_key[32] = {};
    uint8_t m_scratch[kChunkSectors * kSectorSize] = {};
    uint64_t m_bad_sector = ~uint64_t{0};
    uint64_t m_bad_node = ~uint64_t{0};
    ParseError m_parse_error = ParseError::None;
    bool m_mounted = false;
};

}  // namespace popek::sealdisk
