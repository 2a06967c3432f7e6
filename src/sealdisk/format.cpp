// popek sealed disk format v2: header and tree-node structure checks (docs/guest-os.md "Storage").
#include "sealdisk/format.h"

namespace popek::sealdisk {
namespace {

bool all_zero(const uint8_t* p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; ++i) acc |= p[i];
    return acc == 0;
}

bool same(const uint8_t* p, const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != static_cast<uint8_t>(s[i])) return false;
    return true;
}

}  // namespace

const char* cipher_name(uint32_t cipher) {
    switch (cipher) {
        case kCipherXChaCha20Poly1305: return "xchacha20-poly1305";
        case kCipherAes256Gcm: return "aes-256-gcm";
    }
    return "unknown";
}

const char* parse_error_name(ParseError e) {
    switch (e) {
        case ParseError::None: return "ok";
        case ParseError::TooShort: return "shorter than a sector";
        case ParseError::AllZero: return "not formatted (all zero)";
        case ParseError::BadMagic: return "not a popek sealed disk (bad magic)";
        case ParseError::BadVersion: return "unsupported format version";
        case ParseError::BadCipher: return "unknown cipher";
        case ParseError::BadKdf: return "unknown key derivation";
        case ParseError::BadGeometry: return "inconsistent sizes";
        case ParseError::BadReserved: return "reserved bytes not zero";
        case ParseError::BadNode: return "malformed tree node";
    }
    return "?";
}

bool compute_geometry(uint64_t data_sectors, Geometry& out) {
    if (data_sectors == 0 || data_sectors > kMaxDataSectors || data_sectors % kUnitSectors != 0) return false;
    Geometry g;
    g.data_sectors = data_sectors;
    g.units = data_sectors / kUnitSectors;
    uint64_t count = (g.units + kEntriesPerLeaf - 1) / kEntriesPerLeaf;
    uint64_t first = 0;
    for (;;) {
        if (g.levels == kMaxLevels) return false;
        g.count[g.levels] = count;
        g.first[g.levels] = first;
        ++g.levels;
        first += count;
        if (count == 1) break;
        count = (count + kFanout - 1) / kFanout;
    }
    g.nodes = first;
    out = g;
    return true;
}

bool fit_geometry(uint64_t raw_sectors, uint64_t max_nodes, Geometry& out) {
    // Both the tree's size and the volume's grow with the data units: binary search for the
    // largest volume that fits.
    auto fits = [&](uint64_t units, Geometry& g) {
        return compute_geometry(units * kUnitSectors, g) && g.total_sectors() <= raw_sectors && g.nodes <= max_nodes;
    };
    if (raw_sectors < 2 + kUnitSectors) return false;
    const uint64_t most = (raw_sectors - 2) / kUnitSectors;
    uint64_t lo = 0, hi = most < kMaxDataSectors / kUnitSectors ? most : kMaxDataSectors / kUnitSectors;
    Geometry g;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (fits(mid, g)) lo = mid;
        else hi = mid - 1;
    }
    return lo > 0 && fits(lo, out);
}

ParseError parse_header(const uint8_t* s, size_t len, Header& h, Geometry& g) {
    if (s == nullptr || len < kSectorSize) return ParseError::TooShort;
    if (all_zero(s, kSectorSize)) return ParseError::AllZero;
    if (!same(s + hdr::kMagic, kMagic, sizeof kMagic)) return ParseError::BadMagic;
    h.version = load_le32(s + hdr::kVersion);
    if (h.version != kFormatVersion) return ParseError::BadVersion;
    h.cipher = load_le32(s + hdr::kCipher);
    if (!known_cipher(h.cipher)) return ParseError::BadCipher;
    h.kdf = load_le32(s + hdr::kKdf);
    if (h.kdf != kKdfBlake2bCryptoKdf || !same(s + hdr::kKdfContext, kKdfContext, sizeof kKdfContext))
        return ParseError::BadKdf;
    if (load_le32(s + hdr::kSectorSize) != kSectorSize || load_le32(s + hdr::kEntriesPerLeaf) != kEntriesPerLeaf ||
        load_le32(s + hdr::kFanout) != kFanout || load_le32(s + hdr::kUnitSectors) != kUnitSectors)
        return ParseError::BadGeometry;
    h.raw_sectors = load_le64(s + hdr::kRawSectors);
    h.data_sectors = load_le64(s + hdr::kDataSectors);
    h.meta_sectors = load_le64(s + hdr::kMetaSectors);
    h.generation = load_le64(s + hdr::kGeneration);
    if (!compute_geometry(h.data_sectors, g) || g.nodes != h.meta_sectors || g.total_sectors() > h.raw_sectors ||
        h.raw_sectors > (uint64_t{1} << 40))
        return ParseError::BadGeometry;
    if (!all_zero(s + hdr::kReserved, kMacOffset - hdr::kReserved)) return ParseError::BadReserved;
    __builtin_memcpy(h.disk_id, s + hdr::kDiskId, kDiskIdBytes);
    __builtin_memcpy(h.root, s + hdr::kRoot, kHashBytes);
    __builtin_memcpy(h.mac, s + kMacOffset, kHashBytes);
    return ParseError::None;
}

void encode_header(const Header& h, uint8_t s[kSectorSize]) {
    __builtin_memset(s, 0, kSectorSize);
    __builtin_memcpy(s + hdr::kMagic, kMagic, sizeof kMagic);
    store_le32(s + hdr::kVersion, h.version);
    store_le32(s + hdr::kCipher, h.cipher);
    store_le32(s + hdr::kKdf, h.kdf);
    store_le32(s + hdr::kSectorSize, kSectorSize);
    store_le32(s + hdr::kEntriesPerLeaf, kEntriesPerLeaf);
    store_le32(s + hdr::kFanout, kFanout);
    store_le32(s + hdr::kUnitSectors, kUnitSectors);
    store_le64(s + hdr::kRawSectors, h.raw_sectors);
    store_le64(s + hdr::kDataSectors, h.data_sectors);
    store_le64(s + hdr::kMetaSectors, h.meta_sectors);
    store_le64(s + hdr::kGeneration, h.generation);
    __builtin_memcpy(s + hdr::kDiskId, h.disk_id, kDiskIdBytes);
    __builtin_memcpy(s + hdr::kKdfContext, kKdfContext, sizeof kKdfContext);
    __builtin_memcpy(s + hdr::kRoot, h.root, kHashBytes);
    __builtin_memcpy(s + kMacOffset, h.mac, kHashBytes);
}

bool node_position(const Geometry& g, uint64_t node, uint32_t& level, uint64_t& index) {
    for (uint32_t l = 0; l < g.levels; ++l) {
        if (node >= g.first[l] && node - g.first[l] < g.count[l]) {
            level = l;
            index = node - g.first[l];
            return true;
        }
    }
    return false;
}

ParseError check_node(const Geometry& g, uint64_t node, const uint8_t s[kSectorSize]) {
    uint32_t level = 0;
    uint64_t index = 0;
    if (!node_position(g, node, level, index)) return ParseError::BadNode;
    if (level == 0) {
        for (uint32_t i = 0; i < kEntriesPerLeaf; ++i) {
            const uint8_t* e = s + i * kEntryBytes;
            const bool past_end = index * kEntriesPerLeaf + i >= g.units;
            if ((past_end || load_le64(e) == 0) && !all_zero(e, kEntryBytes)) return ParseError::BadNode;
        }
        return ParseError::None;
    }
    const uint64_t children = g.count[level - 1];
    for (uint32_t i = 0; i < kFanout; ++i)
        if (index * kFanout + i >= children && !all_zero(s + i * kHashBytes, kHashBytes)) return ParseError::BadNode;
    return ParseError::None;
}

}  // namespace popek::sealdisk
