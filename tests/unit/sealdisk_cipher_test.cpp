// The sealed disk's two ciphers (src/sealdisk/unit_cipher.*; docs/guest-os.md "On-disk format"):
// every behaviour on XChaCha20-Poly1305 (cipher 1) and AES-256-GCM (cipher 2), the choice at
// format time, the AES-256-GCM construction checked against libsodium directly, and the errors
// for a cipher the CPU lacks or the format does not know.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "sealdisk/inspect.h"
#include "sealdisk_test_util.h"

using namespace popek::sealdisk;
using popek::sealdisk::testing::MemoryDisk;
using popek::sealdisk::testing::test_secret;

namespace {

constexpr uint64_t kDiskSectors = 2048;

struct Vol {
    std::vector<uint8_t> tree = std::vector<uint8_t>(256 * 1024);
    Volume volume;
    Status mount(MemoryDisk& disk) { return volume.mount(disk.device(), test_secret(), tree.data(), tree.size()); }
    Status format(MemoryDisk& disk, uint32_t cipher) {
        return volume.format(disk.device(), test_secret(), tree.data(), tree.size(), cipher);
    }
};

std::vector<uint8_t> pattern(size_t sectors, uint8_t seed) {
    std::vector<uint8_t> v(sectors * kSectorSize);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 31 + seed + i / 4096);
    return v;
}

bool aes_here() { return sodium_init() >= 0 && cipher_available(kCipherAes256Gcm); }

class SealDiskCipher : public ::testing::TestWithParam<uint32_t> {
protected:
    void SetUp() override {
        if (GetParam() == kCipherAes256Gcm && !aes_here()) GTEST_SKIP() << "host CPU without AES-NI/PCLMULQDQ";
    }
    /// Formatted with the parameter's cipher; units 0-3 written in one call, unit 5 in another.
    MemoryDisk written() {
        MemoryDisk disk(kDiskSectors);
        Vol v;
        EXPECT_EQ(v.format(disk, GetParam()), Status::Ok);
        EXPECT_EQ(v.volume.header().cipher, GetParam());
        EXPECT_EQ(v.volume.write(0, pattern(32, 1).data(), 32), Status::Ok);
        EXPECT_EQ(v.volume.write(40, pattern(8, 2).data(), 8), Status::Ok);
        return disk;
    }
};

TEST_P(SealDiskCipher, RoundTripAcrossMountsWithSaltsAlternatingInOneRead) {
    MemoryDisk disk = written();
    Vol v;
    ASSERT_EQ(v.mount(disk), Status::Ok);
    EXPECT_EQ(v.volume.header().cipher, GetParam());
    // Unit 1 rewritten by a third call: one read meets salts A, C, A, A, (unwritten), B.
    ASSERT_EQ(v.volume.write(8, pattern(8, 3).data(), 8), Status::Ok);
    Vol again;
    ASSERT_EQ(again.mount(disk), Status::Ok);
    std::vector<uint8_t> all(48 * kSectorSize);
    ASSERT_EQ(again.volume.read(0, all.data(), 48), Status::Ok);
    std::vector<uint8_t> want = pattern(32, 1);
    const std::vector<uint8_t> unit1 = pattern(8, 3), unit5 = pattern(8, 2);
    std::copy(unit1.begin(), unit1.end(), want.begin() + kUnitBytes);
    want.resize(40 * kSectorSize, 0);
    want.insert(want.end(), unit5.begin(), unit5.end());
    EXPECT_EQ(all, want);
    const std::string hay(disk.bytes.begin(), disk.bytes.end());
    const std::vector<uint8_t> plain = pattern(1, 1);
    EXPECT_EQ(hay.find(std::string(plain.begin(), plain.begin() + 64)), std::string::npos) << "plaintext on the disk";
}

TEST_P(SealDiskCipher, FlippedSwappedAndOlderUnitsAreIntegrityErrors) {
    MemoryDisk disk = written();
    Vol probe;
    ASSERT_EQ(probe.mount(disk), Status::Ok);
    const Geometry g = probe.volume.geometry();
    std::vector<uint8_t> out(kSectorSize);
    {   // a flipped byte in unit 2
        MemoryDisk d = disk;
        d.sector(g.data_sector(17))[9] ^= 0x04;
        Vol v;
        ASSERT_EQ(v.mount(d), Status::Ok);
        EXPECT_EQ(v.volume.read(16, out.data(), 1), Status::Integrity);
        EXPECT_EQ(v.volume.bad_sector(), 16u);
        EXPECT_EQ(v.volume.read(8, out.data(), 1), Status::Ok);
    }
    {   // units 0 and 1 swapped: both written by the same call (same salt, same subkey)
        MemoryDisk d = disk;
        std::swap_ranges(d.sector(g.data_sector(0)), d.sector(g.data_sector(0)) + kUnitBytes, d.sector(g.data_sector(8)));
        Vol v;
        ASSERT_EQ(v.mount(d), Status::Ok);
        EXPECT_EQ(v.volume.read(0, out.data(), 1), Status::Integrity);
        EXPECT_EQ(v.volume.read(8, out.data(), 1), Status::Integrity);
    }
    {   // an older copy of unit 5 after a rewrite
        MemoryDisk d = disk;
        const std::vector<uint8_t> old(d.sector(g.data_sector(40)), d.sector(g.data_sector(40)) + kUnitBytes);
        Vol v;
        ASSERT_EQ(v.mount(d), Status::Ok);
        ASSERT_EQ(v.volume.write(40, pattern(8, 9).data(), 8), Status::Ok);
        std::copy(old.begin(), old.end(), d.sector(g.data_sector(40)));
        Vol w;
        ASSERT_EQ(w.mount(d), Status::Ok);
        EXPECT_EQ(w.volume.read(40, out.data(), 1), Status::Integrity);
    }
    {   // an entry's salt changed (cipher 2: another subkey): the tree no longer verifies
        MemoryDisk d = disk;
        d.sector(g.node_sector(0))[8] ^= 1;
        Vol v;
        EXPECT_EQ(v.mount(d), Status::Integrity);
    }
}

TEST_P(SealDiskCipher, RewritesAfterAWholeDiskRollbackUseFreshSaltsAndCiphertext) {
    // The same unit at the same version written twice (the disk rolled back in between): the
    // salts differ, so the subkey (cipher 2) or the nonce (cipher 1) differs, and so does every
    // ciphertext block, also where the plaintexts are equal.
    MemoryDisk disk = written();
    const std::vector<uint8_t> snapshot = disk.bytes;
    std::vector<std::vector<uint8_t>> entries, units;
    for (uint8_t seed : {uint8_t{5}, uint8_t{6}}) {
        disk.bytes = snapshot;
        Vol v;
        ASSERT_EQ(v.mount(disk), Status::Ok);
        std::vector<uint8_t> data(kUnitBytes, 0);
        data[0] = seed;   // the plaintexts differ in byte 0 only
        ASSERT_EQ(v.volume.write(40, data.data(), 8), Status::Ok);
        const Geometry g = v.volume.geometry();
        const uint8_t* e = disk.sector(g.node_sector(0)) + 5 * kEntryBytes;
        entries.emplace_back(e, e + kEntryBytes);
        units.emplace_back(disk.sector(g.data_sector(40)), disk.sector(g.data_sector(40)) + kUnitBytes);
    }
    EXPECT_EQ(load_le64(entries[0].data()), load_le64(entries[1].data())) << "the same version twice";
    EXPECT_FALSE(std::equal(entries[0].begin() + 8, entries[0].begin() + 16, entries[1].begin() + 8)) << "same salt";
    for (size_t block = 1; block < kUnitBytes / 16; ++block)
        EXPECT_FALSE(std::equal(units[0].begin() + static_cast<long>(block * 16),
                                units[0].begin() + static_cast<long>(block * 16 + 16), units[1].begin() + static_cast<long>(block * 16)))
            << "keystream block " << block << " repeated";
}

TEST_P(SealDiskCipher, InfoAndInspectNameTheCipher) {
    MemoryDisk disk = written();
    const std::string path = ::testing::TempDir() + "/sealdisk-cipher.img";
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(disk.bytes.data(), 1, disk.bytes.size(), f), disk.bytes.size());
    std::fclose(f);
    auto report = inspect_image(path);
    std::remove(path.c_str());
    ASSERT_TRUE(report) << report.error().message;
    const char* want = GetParam() == kCipherAes256Gcm ? "cipher: AES-256-GCM per 4 KiB unit" : "cipher: XChaCha20-Poly1305 per 4 KiB unit";
    EXPECT_NE(report->find(want), std::string::npos) << *report;
    EXPECT_STREQ(cipher_name(GetParam()), GetParam() == kCipherAes256Gcm ? "aes-256-gcm" : "xchacha20-poly1305");
}

INSTANTIATE_TEST_SUITE_P(Ciphers, SealDiskCipher, ::testing::Values(kCipherXChaCha20Poly1305, kCipherAes256Gcm),
                         [](const ::testing::TestParamInfo<uint32_t>& p) {
                             return std::string(p.param == kCipherAes256Gcm ? "Aes256Gcm" : "XChaCha20");
                         });

TEST(SealDiskAes, UnitsAreAes256GcmUnderTheDocumentedSubkeyNonceAndAd) {
    // Re-derives what docs/guest-os.md "On-disk format" specifies with libsodium alone and opens
    // unit 5 with it: key root, subkey 1, K_s = kdf(subkey 1, salt, "popekgcm"), nonce = unit ‖
    // version low 32 bits, AD = unit ‖ version.
    if (!aes_here()) GTEST_SKIP() << "host CPU without AES-NI/PCLMULQDQ";
    MemoryDisk disk(kDiskSectors);
    Vol v;
    ASSERT_EQ(v.format(disk, kCipherAes256Gcm), Status::Ok);
    const std::vector<uint8_t> data = pattern(8, 7);
    ASSERT_EQ(v.volume.write(40, data.data(), 8), Status::Ok);
    ASSERT_EQ(v.volume.write(40, data.data(), 8), Status::Ok);   // version 2
    const Geometry g = v.volume.geometry();
    const uint8_t* e = disk.sector(g.node_sector(0)) + 5 * kEntryBytes;
    ASSERT_EQ(load_le64(e), 2u);
    const char label[] = "popek sealed disk v2";
    uint8_t msg[kDiskIdBytes + sizeof label], root[32], enc[32], ks[32];
    std::memcpy(msg, v.volume.header().disk_id, kDiskIdBytes);
    std::memcpy(msg + kDiskIdBytes, label, sizeof label);
    crypto_generichash(root, sizeof root, msg, sizeof msg, test_secret(), kSecretBytes);
    crypto_kdf_derive_from_key(enc, sizeof enc, 1, "popekdsk", root);
    crypto_kdf_derive_from_key(ks, sizeof ks, load_le64(e + 8), "popekgcm", enc);
    uint8_t nonce[12], ad[16];
    store_le64(nonce, 5);
    store_le32(nonce + 8, 2);
    store_le64(ad, 5);
    store_le64(ad + 8, 2);
    std::vector<uint8_t> plain(kUnitBytes);
    ASSERT_EQ(crypto_aead_aes256gcm_decrypt_detached(plain.data(), nullptr, disk.sector(g.data_sector(40)), kUnitBytes,
                                                     e + 16, ad, sizeof ad, nonce, ks),
              0);
    EXPECT_EQ(plain, data);
}

TEST(SealDiskAes, FormatPicksAesWhereAvailableAndACipherOneDiskStillMounts) {
    MemoryDisk old_disk(kDiskSectors);
    Vol old;
    ASSERT_EQ(old.format(old_disk, kCipherXChaCha20Poly1305), Status::Ok);
    ASSERT_EQ(old.volume.write(3, pattern(1, 4).data(), 1), Status::Ok);
    MemoryDisk fresh(kDiskSectors);
    Vol v;
    ASSERT_EQ(v.format(fresh, 0), Status::Ok);
    EXPECT_EQ(v.volume.header().cipher, aes_here() ? kCipherAes256Gcm : kCipherXChaCha20Poly1305);
    EXPECT_EQ(preferred_cipher(), v.volume.header().cipher);
    Vol m;   // the cipher comes from the header, whatever format() would pick now
    ASSERT_EQ(m.mount(old_disk), Status::Ok);
    EXPECT_EQ(m.volume.header().cipher, kCipherXChaCha20Poly1305);
    std::vector<uint8_t> out(kSectorSize);
    ASSERT_EQ(m.volume.read(3, out.data(), 1), Status::Ok);
    EXPECT_EQ(out, pattern(1, 4));
}

TEST(SealDiskAes, WithoutAesNiFormatAndMountOfCipherTwoFailClearly) {
    const bool aes = aes_here();
    MemoryDisk disk(kDiskSectors);
    if (aes) {
        Vol v;
        ASSERT_EQ(v.format(disk, kCipherAes256Gcm), Status::Ok);
        ASSERT_EQ(v.volume.write(0, pattern(1, 8).data(), 1), Status::Ok);
    }
    const std::vector<uint8_t> image = disk.bytes;
    hide_aes_for_testing(true);
    Vol f;
    EXPECT_EQ(f.format(disk, kCipherAes256Gcm), Status::CipherUnavailable) << "forced aes256gcm on a CPU without it";
    EXPECT_EQ(f.volume.header().cipher, kCipherAes256Gcm);
    EXPECT_EQ(disk.bytes, image) << "a refused format writes nothing";
    MemoryDisk other(kDiskSectors);
    Vol d;
    EXPECT_EQ(d.format(other, 0), Status::Ok);
    EXPECT_EQ(d.volume.header().cipher, kCipherXChaCha20Poly1305) << "the default falls back";
    Vol m;
    if (aes) {
        EXPECT_EQ(m.mount(disk), Status::CipherUnavailable) << "a cipher-2 disk on a CPU without AES-NI";
    }
    EXPECT_NE(std::string(status_name(Status::CipherUnavailable)).find("AES-NI"), std::string::npos);
    hide_aes_for_testing(false);
    if (!aes) return;
    Vol again;
    ASSERT_EQ(again.mount(disk), Status::Ok);
    std::vector<uint8_t> out(kSectorSize);
    ASSERT_EQ(again.volume.read(0, out.data(), 1), Status::Ok);
    EXPECT_EQ(out, pattern(1, 8));
}

TEST(SealDiskAes, UnknownCiphersAreRefused) {
    MemoryDisk disk(kDiskSectors);
    Vol v;
    EXPECT_EQ(v.format(disk, 3), Status::CipherUnavailable);
    ASSERT_EQ(v.format(disk, kCipherXChaCha20Poly1305), Status::Ok);
    Header h;
    Geometry g;
    for (uint32_t cipher : {0u, 3u, 0x102u, ~0u}) {
        std::vector<uint8_t> s(disk.sector(0), disk.sector(0) + kSectorSize);
        store_le32(s.data() + hdr::kCipher, cipher);
        EXPECT_EQ(parse_header(s.data(), s.size(), h, g), ParseError::BadCipher) << cipher;
    }
    for (uint32_t cipher : {kCipherXChaCha20Poly1305, kCipherAes256Gcm}) {
        std::vector<uint8_t> s(disk.sector(0), disk.sector(0) + kSectorSize);
        store_le32(s.data() + hdr::kCipher, cipher);
        EXPECT_EQ(parse_header(s.data(), s.size(), h, g), ParseError::None) << cipher;
    }
    disk.sector(0)[hdr::kCipher] = 2;   // a known id, but the MAC covers it
    Vol m;
    EXPECT_EQ(m.mount(disk), Status::Integrity);
    EXPECT_STREQ(cipher_name(9), "unknown");
}

}  // namespace
