// popek sealed disk: mount (verify header and tree), format, authenticated reads and writes.
// Primitives (libsodium): crypto_generichash (keyed BLAKE2b) for the key root, the tree and the
// header MAC; crypto_kdf_derive_from_key for the subkeys; per 4 KiB unit the header's AEAD
// (unit_cipher.h). docs/guest-os.md "Storage" describes the format and the threat model.
#include "sealdisk/volume.h"

#include <sodium.h>

namespace popek::sealdisk {
namespace {

constexpr uint64_t kNoIndex = ~uint64_t{0};
constexpr char kRootLabel[] = "popek sealed disk v2";
constexpr uint8_t kDomainHeader = 'H';
constexpr uint8_t kDomainNode = 'N';

uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

}  // namespace

const char* status_name(Status s) {
    switch (s) {
        case Status::Ok: return "ok";
        case Status::Integrity: return "integrity check failed (modified, moved or rolled back)";
        case Status::NotFormatted: return "not formatted";
        case Status::BadFormat: return "not a valid popek sealed disk";
        case Status::Io: return "I/O error";
        case Status::Range: return "outside the volume";
        case Status::TooLarge: return "does not fit (disk too small or tree too large)";
        case Status::Crypto: return "libsodium unavailable";
        case Status::NotMounted: return "not mounted";
        case Status::CipherUnavailable:
            return "cipher unavailable on this CPU (AES-256-GCM needs AES-NI and PCLMULQDQ)";
    }
    return "?";
}

Volume::~Volume() { sodium_memzero(m_mac_key, sizeof m_mac_key); }

void Volume::derive_keys(const uint8_t secret[kSecretBytes]) {
    uint8_t msg[kDiskIdBytes + sizeof kRootLabel];
    __builtin_memcpy(msg, m_header.disk_id, kDiskIdBytes);
    __builtin_memcpy(msg + kDiskIdBytes, kRootLabel, sizeof kRootLabel);
    uint8_t root[crypto_kdf_KEYBYTES];
    crypto_generichash(root, sizeof root, msg, sizeof msg, secret, kSecretBytes);
    uint8_t enc_key[kUnitKeyBytes];
    crypto_kdf_derive_from_key(enc_key, sizeof enc_key, 1, kKdfContext, root);
    crypto_kdf_derive_from_key(m_mac_key, sizeof m_mac_key, 2, kKdfContext, root);
    sodium_memzero(root, sizeof root);
    if (cipher_available(m_header.cipher)) m_cipher.init(m_header.cipher, enc_key);
    else m_cipher.clear();
    sodium_memzero(enc_key, sizeof enc_key);
}

void Volume::hash_node(uint64_t n, uint8_t out[kHashBytes]) const {
    uint8_t prefix[9] = {kDomainNode};
    store_le64(prefix + 1, n);   // binds the node to its place: nodes cannot be swapped
    crypto_generichash_state st;
    crypto_generichash_init(&st, m_mac_key, sizeof m_mac_key, kHashBytes);
    crypto_generichash_update(&st, prefix, sizeof prefix);
    crypto_generichash_update(&st, node(n), kSectorSize);
    crypto_generichash_final(&st, out, kHashBytes);
}

void Volume::header_mac(const uint8_t sector[kSectorSize], uint8_t out[kHashBytes]) const {
    crypto_generichash_state st;
    crypto_generichash_init(&st, m_mac_key, sizeof m_mac_key, kHashBytes);
    crypto_generichash_update(&st, &kDomainHeader, 1);
    crypto_generichash_update(&st, sector, kMacOffset);
    crypto_generichash_final(&st, out, kHashBytes);
}

uint8_t* Volume::entry(uint64_t unit) const {
    return node(m_geometry.first[0] + unit / kEntriesPerLeaf) + (unit % kEntriesPerLeaf) * kEntryBytes;
}

bool Volume::open_unit(uint64_t unit, uint8_t* data) {
    const uint8_t* e = entry(unit);
    if (load_le64(e) == 0) {   // never written: zeros, whatever the disk holds
        __builtin_memset(data, 0, kUnitBytes);
        return true;
    }
    if (m_cipher.open(unit, e, data)) return true;
    __builtin_memset(data, 0, kUnitBytes);
    return false;
}

uint8_t* Volume::parent_slot(uint32_t level, uint64_t index) {
    if (level + 1 >= m_geometry.levels) return m_header.root;
    return node(m_geometry.first[level + 1] + index / kFanout) + (index % kFanout) * kHashBytes;
}

Status Volume::fail(Status s) {
    m_mounted = false;
    return s;
}

Status Volume::load(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes) {
    m_mounted = false;
    m_bad_node = m_bad_sector = kNoIndex;
    m_parse_error = ParseError::None;
    if (sodium_init() < 0) return Status::Crypto;
    if (dev.sectors < 1 || dev.read == nullptr || dev.write == nullptr) return Status::TooLarge;
    m_dev = dev;
    uint8_t* sector0 = m_scratch;
    if (dev.read(dev.context, 0, sector0, 1) < 0) return Status::Io;
    m_parse_error = parse_header(sector0, kSectorSize, m_header, m_geometry);
    if (m_parse_error == ParseError::AllZero) return Status::NotFormatted;
    if (m_parse_error != ParseError::None) return Status::BadFormat;
    derive_keys(secret);
    uint8_t mac[kHashBytes];
    header_mac(sector0, mac);
    if (crypto_verify_32(mac, m_header.mac) != 0) return Status::Integrity;
    // After the MAC: "unavailable" is about an authentic header (a disk formatted where AES-NI was).
    if (!cipher_available(m_header.cipher)) return Status::CipherUnavailable;
    if (m_geometry.total_sectors() > dev.sectors || m_geometry.nodes > tree_bytes / kSectorSize) return Status::TooLarge;
    m_tree = tree;
    for (uint64_t n = 0; n < m_geometry.nodes; n += kChunkSectors) {
        uint64_t count = m_geometry.nodes - n < kChunkSectors ? m_geometry.nodes - n : kChunkSectors;
        if (dev.read(dev.context, m_geometry.node_sector(n), node(n), count) < 0) return Status::Io;
    }
    for (uint64_t n = 0; n < m_geometry.nodes; ++n) {
        if (check_node(m_geometry, n, node(n)) != ParseError::None) {
            m_parse_error = ParseError::BadNode;
            m_bad_node = n;
            return Status::Integrity;
        }
    }
    for (uint32_t l = 0; l < m_geometry.levels; ++l) {
        for (uint64_t i = 0; i < m_geometry.count[l]; ++i) {
            uint8_t h[kHashBytes];
            hash_node(m_geometry.first[l] + i, h);
            if (crypto_verify_32(h, parent_slot(l, i)) != 0) {
                m_bad_node = m_geometry.first[l] + i;
                return Status::Integrity;
            }
        }
    }
    m_mounted = true;
    return Status::Ok;
}

Status Volume::mount(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes) {
    return load(dev, secret, tree, tree_bytes);
}

Status Volume::format(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes,
                      uint32_t cipher) {
    m_mounted = false;
    if (sodium_init() < 0) return Status::Crypto;
    if (cipher == 0) cipher = preferred_cipher();
    if (!cipher_available(cipher)) {
        m_cipher.clear();
        m_header.cipher = cipher;   // for the caller's message
        return Status::CipherUnavailable;
    }
    if (dev.read == nullptr || dev.write == nullptr) return Status::TooLarge;
    Geometry g;
    if (!fit_geometry(dev.sectors, tree_bytes / kSectorSize, g)) return Status::TooLarge;
    m_dev = dev;
    m_geometry = g;
    m_tree = tree;
    m_header = Header{};
    m_header.cipher = cipher;
    m_header.raw_sectors = dev.sectors;
    m_header.data_sectors = g.data_sectors;
    m_header.meta_sectors = g.nodes;
    randombytes_buf(m_header.disk_id, sizeof m_header.disk_id);
    derive_keys(secret);
    __builtin_memset(tree, 0, g.nodes * kSectorSize);
    m_mounted = true;
    return commit(0, g.count[0] - 1);
}

Status Volume::commit(uint64_t a, uint64_t b) {
    for (uint32_t l = 0; l < m_geometry.levels; ++l) {
        for (uint64_t i = a; i <= b; ++i) hash_node(m_geometry.first[l] + i, parent_slot(l, i));
        const uint64_t first = m_geometry.first[l] + a;
        if (m_dev.write(m_dev.context, m_geometry.node_sector(first), node(first), b - a + 1) < 0)
            return fail(Status::Io);
        a /= kFanout;
        b /= kFanout;
    }
    return write_header();
}

Status Volume::write_header() {
    ++m_header.generation;
    uint8_t sector[kSectorSize];
    encode_header(m_header, sector);
    header_mac(sector, m_header.mac);
    __builtin_memcpy(sector + kMacOffset, m_header.mac, kHashBytes);
    if (m_dev.write(m_dev.context, 0, sector, 1) < 0) return fail(Status::Io);
    return Status::Ok;
}

Status Volume::read(uint64_t first, void* buf, uint64_t count) {
    if (!m_mounted) return Status::NotMounted;
    if (first > m_geometry.data_sectors || count > m_geometry.data_sectors - first) return Status::Range;
    auto* out = static_cast<uint8_t*>(buf);
    const uint64_t end = first + count;
    for (uint64_t s = first; s < end;) {
        const uint64_t unit = s / kUnitSectors, offset = s % kUnitSectors;
        uint8_t* dst = out + (s - first) * kSectorSize;
        if (offset == 0 && end - s >= kUnitSectors) {
            // Whole units straight into the caller's buffer, a chunk per device read.
            const uint64_t units = min_u64((end - s) / kUnitSectors, kChunkUnits);
            if (m_dev.read(m_dev.context, m_geometry.data_sector(s), dst, units * kUnitSectors) < 0) return Status::Io;
            for (uint64_t i = 0; i < units; ++i) {
                if (!open_unit(unit + i, dst + i * kUnitBytes)) {
                    m_bad_sector = s + i * kUnitSectors;
                    __builtin_memset(dst + i * kUnitBytes, 0, (end - m_bad_sector) * kSectorSize);
                    return Status::Integrity;
                }
            }
            s += units * kUnitSectors;
            continue;
        }
        // Part of a unit: the whole unit through the scratch buffer.
        const uint64_t n = min_u64(kUnitSectors - offset, end - s);
        if (m_dev.read(m_dev.context, m_geometry.data_sector(unit * kUnitSectors), m_scratch, kUnitSectors) < 0)
            return Status::Io;
        if (!open_unit(unit, m_scratch)) {
            m_bad_sector = s;
            __builtin_memset(dst, 0, (end - s) * kSectorSize);
            return Status::Integrity;
        }
        __builtin_memcpy(dst, m_scratch + offset * kSectorSize, n * kSectorSize);
        s += n;
    }
    return Status::Ok;
}

Status Volume::write(uint64_t first, const void* buf, uint64_t count) {
    if (!m_mounted) return Status::NotMounted;
    if (count == 0) return Status::Ok;
    if (first > m_geometry.data_sectors || count > m_geometry.data_sectors - first) return Status::Range;
    const auto* in = static_cast<const uint8_t*>(buf);
    const uint64_t end = first + count;
    const uint64_t first_unit = first / kUnitSectors, end_unit = (end + kUnitSectors - 1) / kUnitSectors;
    uint8_t entries[kChunkUnits][kEntryBytes];
    // One random nonce salt per call, shared by the units it writes: the (key, nonce) pair stays
    // unique (units differ within the call, a fresh 64-bit salt across calls, also after a
    // whole-disk rollback repeats a version; for AES-256-GCM the salt picks the key, for
    // XChaCha20 it is part of the nonce: unit_cipher.h) at one random draw per call instead of one
    // per unit (each a getrandom system call in popek-os).
    uint8_t salt[8];
    randombytes_buf(salt, sizeof salt);
    Status result = Status::Ok;
    uint64_t unit = first_unit;
    while (unit < end_unit && result == Status::Ok) {
        const uint64_t units = min_u64(end_unit - unit, kChunkUnits);
        uint64_t sealed = 0;
        for (; sealed < units; ++sealed) {
            const uint64_t u = unit + sealed;
            const uint64_t lo = u * kUnitSectors > first ? u * kUnitSectors : first;
            const uint64_t hi = min_u64((u + 1) * kUnitSectors, end);
            uint8_t* dst = m_scratch + sealed * kUnitBytes;
            const uint8_t* plain = in + (lo - first) * kSectorSize;
            if (hi - lo < kUnitSectors) {
                // Read-modify-write: the unit's other sectors must be authentic to be kept.
                if (m_dev.read(m_dev.context, m_geometry.data_sector(u * kUnitSectors), dst, kUnitSectors) < 0)
                    return fail(Status::Io);
                if (!open_unit(u, dst)) {
                    m_bad_sector = lo;
                    result = Status::Integrity;
                    break;
                }
                __builtin_memcpy(dst + (lo % kUnitSectors) * kSectorSize, plain, (hi - lo) * kSectorSize);
                plain = dst;
            }
            const uint64_t version = load_le64(entry(u)) + 1;
            if (version == 0) return fail(Status::Io);   // 2^64 writes of one unit
            uint8_t* e = entries[sealed];
            store_le64(e, version);
            __builtin_memcpy(e + 8, salt, sizeof salt);
            m_cipher.seal(u, e, plain, dst, e + 16);
        }
        if (sealed == 0) break;
        if (m_dev.write(m_dev.context, m_geometry.data_sector(unit * kUnitSectors), m_scratch, sealed * kUnitSectors) < 0)
            return fail(Status::Io);
        for (uint64_t i = 0; i < sealed; ++i) __builtin_memcpy(entry(unit + i), entries[i], kEntryBytes);
        unit += sealed;
    }
    if (unit == first_unit) return result;   // nothing written
    const Status committed = commit(first_unit / kEntriesPerLeaf, (unit - 1) / kEntriesPerLeaf);
    return committed != Status::Ok ? committed : result;
}

}  // namespace popek::sealdisk
