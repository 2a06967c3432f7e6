// popek sealed disk: mount (verify header and tree), format, authenticated reads and writes.
// Primitives (libsodium): crypto_generichash (keyed BLAKE2b) for the key root, the tree and the
// header MAC; crypto_kdf_derive_from_key for the subkeys; crypto_aead_xchacha20poly1305_ietf
// (detached) per sector. docs/guest-os.md "Storage" describes the format and the threat model.
#include "sealdisk/volume.h"

#include <sodium.h>

namespace popek::sealdisk {
namespace {

constexpr uint64_t kNoIndex = ~uint64_t{0};
constexpr char kRootLabel[] = "popek sealed disk v1";
constexpr uint8_t kDomainHeader = 'H';
constexpr uint8_t kDomainNode = 'N';

/// The sector's nonce (XChaCha20's 24 bytes: the entry's random salt, the address, the version)
/// and associated data (address, version): a ciphertext only opens at its own address and version.
void nonce_and_ad(const uint8_t* entry, uint64_t sector, uint64_t version, uint8_t nonce[24], uint8_t ad[16]) {
    __builtin_memcpy(nonce, entry + 8, 8);
    store_le64(nonce + 8, sector);
    store_le64(nonce + 16, version);
    store_le64(ad, sector);
    store_le64(ad + 8, version);
}

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
    }
    return "?";
}

Volume::~Volume() {
    sodium_memzero(m_enc_key, sizeof m_enc_key);
    sodium_memzero(m_mac_key, sizeof m_mac_key);
}

void Volume::derive_keys(const uint8_t secret[kSecretBytes]) {
    uint8_t msg[kDiskIdBytes + sizeof kRootLabel];
    __builtin_memcpy(msg, m_header.disk_id, kDiskIdBytes);
    __builtin_memcpy(msg + kDiskIdBytes, kRootLabel, sizeof kRootLabel);
    uint8_t root[crypto_kdf_KEYBYTES];
    crypto_generichash(root, sizeof root, msg, sizeof msg, secret, kSecretBytes);
    crypto_kdf_derive_from_key(m_enc_key, sizeof m_enc_key, 1, kKdfContext, root);
    crypto_kdf_derive_from_key(m_mac_key, sizeof m_mac_key, 2, kKdfContext, root);
    sodium_memzero(root, sizeof root);
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

uint8_t* Volume::entry(uint64_t sector) const {
    return node(m_geometry.first[0] + sector / kEntriesPerLeaf) + (sector % kEntriesPerLeaf) * kEntryBytes;
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

Status Volume::format(const SectorDevice& dev, const uint8_t secret[kSecretBytes], uint8_t* tree, size_t tree_bytes) {
    m_mounted = false;
    if (sodium_init() < 0) return Status::Crypto;
    if (dev.read == nullptr || dev.write == nullptr) return Status::TooLarge;
    Geometry g;
    if (!fit_geometry(dev.sectors, tree_bytes / kSectorSize, g)) return Status::TooLarge;
    m_dev = dev;
    m_geometry = g;
    m_tree = tree;
    m_header = Header{};
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
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < kChunkSectors ? count - done : kChunkSectors;
        uint8_t* chunk = out + done * kSectorSize;
        if (m_dev.read(m_dev.context, m_geometry.data_sector(first + done), chunk, n) < 0) return Status::Io;
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t s = first + done + i;
            const uint8_t* e = entry(s);
            const uint64_t version = load_le64(e);
            uint8_t* data = chunk + i * kSectorSize;
            if (version == 0) {   // never written: zeros, whatever the disk holds
                __builtin_memset(data, 0, kSectorSize);
                continue;
            }
            uint8_t nonce[24], ad[16];
            nonce_and_ad(e, s, version, nonce, ad);
            if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(data, nullptr, data, kSectorSize, e + 16, ad,
                                                                     sizeof ad, nonce, m_enc_key) != 0) {
                __builtin_memset(data, 0, kSectorSize);
                m_bad_sector = s;
                return Status::Integrity;
            }
        }
        done += n;
    }
    return Status::Ok;
}

Status Volume::write(uint64_t first, const void* buf, uint64_t count) {
    if (!m_mounted) return Status::NotMounted;
    if (count == 0) return Status::Ok;
    if (first > m_geometry.data_sectors || count > m_geometry.data_sectors - first) return Status::Range;
    const auto* in = static_cast<const uint8_t*>(buf);
    uint8_t entries[kChunkSectors][kEntryBytes];
    // One random nonce salt per call, shared by the sectors it writes: the nonce (salt, address,
    // version) stays unique (addresses differ within the call, a fresh 64-bit salt across calls,
    // also after a whole-disk rollback repeats a version) at one random draw per call instead of
    // one per sector (each a getrandom system call in popek-os).
    uint8_t salt[8];
    randombytes_buf(salt, sizeof salt);
    for (uint64_t done = 0; done < count;) {
        uint64_t n = count - done < kChunkSectors ? count - done : kChunkSectors;
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t s = first + done + i;
            const uint64_t version = load_le64(entry(s)) + 1;
            if (version == 0) return fail(Status::Io);   // 2^64 writes of one sector
            uint8_t* e = entries[i];
            store_le64(e, version);
            __builtin_memcpy(e + 8, salt, sizeof salt);
            uint8_t nonce[24], ad[16];
            nonce_and_ad(e, s, version, nonce, ad);
            crypto_aead_xchacha20poly1305_ietf_encrypt_detached(m_scratch + i * kSectorSize, e + 16, nullptr,
                                                                in + (done + i) * kSectorSize, kSectorSize, ad,
                                                                sizeof ad, nullptr, nonce, m_enc_key);
        }
        if (m_dev.write(m_dev.context, m_geometry.data_sector(first + done), m_scratch, n) < 0) return fail(Status::Io);
        for (uint64_t i = 0; i < n; ++i) __builtin_memcpy(entry(first + done + i), entries[i], kEntryBytes);
        done += n;
    }
    return commit(first / kEntriesPerLeaf, (first + count - 1) / kEntriesPerLeaf);
}

}  // namespace popek::sealdisk
