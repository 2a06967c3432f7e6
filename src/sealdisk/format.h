#pragma once
/// popek sealed disk, format version 2: the on-disk layout of popek-os's encrypted, authenticated
/// block layer (docs/guest-os.md "Storage", section "On-disk format"). Parsing only, no crypto, so
/// that the host tool (`popek disk-inspect`), the fuzz target and popek-os share it.
///
/// Layout of a disk of 512-byte sectors:
///   sector 0              the header (Header below), its last 32 bytes a keyed BLAKE2b MAC
///   sectors 1 .. M        the version tree: M nodes, leaves first, then each level above, the
///                         top node last. A leaf holds 16 entries (one per 4 KiB unit of 8 data
///                         sectors): version (u64), nonce salt (8 bytes), AEAD tag (16 bytes); an inner
///                         node holds 16 keyed BLAKE2b-256 hashes of its children. The header
///                         holds the hash of the top node (the root).
///   sectors M+1 .. M+D    the data sectors, the AEAD ciphertext of each 4 KiB unit (same length; D
///                         is a multiple of 8): XChaCha20-Poly1305 (cipher 1) or AES-256-GCM under
///                         a per-write-call subkey (cipher 2). Version 1 sealed each 512-byte sector
///                         on its own (8x the AEAD calls and tree entries); its disks are refused.
/// Every integer is little endian. Portable and allocation-free (popek-os ring 3 builds it).
#include <stddef.h>
#include <stdint.h>

namespace popek::sealdisk {

constexpr uint32_t kSectorSize = 512;
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kCipherXChaCha20Poly1305 = 1;   ///< per-unit AEAD + keyed BLAKE2b-256 tree
constexpr uint32_t kCipherAes256Gcm = 2;           ///< the same, AES-256-GCM under a per-salt subkey
constexpr uint32_t kUnitSectors = 8;               ///< sectors sealed together (one AEAD, one tree entry)
constexpr uint32_t kUnitBytes = kUnitSectors * kSectorSize;
constexpr uint32_t kKdfBlake2bCryptoKdf = 1;       ///< keyed BLAKE2b(secret, disk id) -> crypto_kdf
constexpr uint32_t kEntriesPerLeaf = 16;           ///< units per leaf
constexpr uint32_t kEntryBytes = 32;               ///< version, nonce salt, tag
constexpr uint32_t kFanout = 16;
constexpr uint32_t kHashBytes = 32;
constexpr uint32_t kTagBytes = 16;
constexpr uint32_t kDiskIdBytes = 16;
constexpr uint32_t kMacOffset = kSectorSize - 32;   ///< the header MAC covers bytes [0, kMacOffset)
constexpr uint64_t kMaxDataSectors = uint64_t{1} << 24;   ///< 8 GiB of data
constexpr uint32_t kMaxLevels = 8;                         ///< 16^6 leaves cover kMaxDataSectors
inline constexpr char kMagic[8] = {'P', 'O', 'P', 'E', 'K', 'S', 'D', 'K'};
inline constexpr char kKdfContext[8] = {'p', 'o', 'p', 'e', 'k', 'd', 's', 'k'};

/// Header field offsets in sector 0 (docs/guest-os.md "On-disk format").
namespace hdr {
constexpr size_t kMagic = 0, kVersion = 8, kCipher = 12, kKdf = 16, kSectorSize = 20, kEntriesPerLeaf = 24,
                 kFanout = 28, kRawSectors = 32, kDataSectors = 40, kMetaSectors = 48, kGeneration = 56,
                 kDiskId = 64, kKdfContext = 80, kRoot = 88, kUnitSectors = 120, kReserved = 124;
}

/// The header's fields (host order).
struct Header {
    uint32_t version = kFormatVersion;
    uint32_t cipher = kCipherXChaCha20Poly1305;
    uint32_t kdf = kKdfBlake2bCryptoKdf;
    uint64_t raw_sectors = 0;    ///< sectors of the disk when it was formatted
    uint64_t data_sectors = 0;   ///< D: sectors of the sealed volume (a multiple of kUnitSectors)
    uint64_t meta_sectors = 0;   ///< M: tree nodes
    uint64_t generation = 0;     ///< header writes so far (public: the back end sees writes anyway)
    uint8_t disk_id[kDiskIdBytes] = {};   ///< random at format: the KDF's salt, the nonces' domain
    uint8_t root[kHashBytes] = {};
    uint8_t mac[kHashBytes] = {};
};

/// Where the tree's levels lie: level l holds count[l] nodes starting at node first[l].
struct Geometry {
    uint64_t data_sectors = 0;
    uint64_t units = 0;   ///< data_sectors / kUnitSectors: one leaf entry each
    uint32_t levels = 0;
    uint64_t count[kMaxLevels] = {};
    uint64_t first[kMaxLevels] = {};
    uint64_t nodes = 0;   ///< M
    uint64_t node_sector(uint64_t node) const { return 1 + node; }
    uint64_t data_sector(uint64_t sector) const { return 1 + nodes + sector; }
    uint64_t total_sectors() const { return 1 + nodes + data_sectors; }
};

/// "xchacha20-poly1305", "aes-256-gcm", or "unknown".
const char* cipher_name(uint32_t cipher);
/// Cipher 1 or 2 (the ids this format version knows).
inline bool known_cipher(uint32_t cipher) { return cipher == kCipherXChaCha20Poly1305 || cipher == kCipherAes256Gcm; }

enum class ParseError : uint8_t {
    None, TooShort, AllZero, BadMagic, BadVersion, BadCipher, BadKdf, BadGeometry, BadReserved, BadNode
};
const char* parse_error_name(ParseError e);

/// The tree for `data_sectors` (a multiple of kUnitSectors in 8..kMaxDataSectors); false otherwise.
bool compute_geometry(uint64_t data_sectors, Geometry& out);
/// The largest volume a disk of `raw_sectors` holds with at most `max_nodes` tree nodes; false if none.
bool fit_geometry(uint64_t raw_sectors, uint64_t max_nodes, Geometry& out);

/// Checks and decodes a header sector (hostile input: every field range-checked, the geometry
/// recomputed and compared). Does not check the MAC (that needs the key).
ParseError parse_header(const uint8_t* sector, size_t len, Header& out, Geometry& geometry);
/// Encodes `h` into a 512-byte sector (MAC bytes as in h.mac).
void encode_header(const Header& h, uint8_t sector[kSectorSize]);

/// Checks a tree node's structure: slots past the end of its level (or past the units, for
/// a leaf) are zero, and a leaf entry of version 0 (never written) is all zero.
ParseError check_node(const Geometry& g, uint64_t node, const uint8_t sector[kSectorSize]);
/// The level of `node` (0 = leaf) and its index in that level; false past the tree.
bool node_position(const Geometry& g, uint64_t node, uint32_t& level, uint64_t& index);

inline uint64_t load_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
inline uint32_t load_le32(const uint8_t* p) {
    return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace popek::sealdisk
