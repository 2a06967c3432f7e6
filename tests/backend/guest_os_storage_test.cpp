// popek-os's sealed disk (docs/guest-os.md "Storage"): /bin/sdisk on /dev/xvda under --xen. The
// host checks the image (no plaintext, the format's public header) and plays the hostile back
// end between boots: it flips a byte, swaps two sectors, writes back an older copy of a sector;
// under --driver-domain the back-end process flips bytes in read replies
// (POPEK_TEST_BLKIF_FLIP_READ, src/ddom/hostile_grant_access.h). Each is an integrity error in
// the guest, which keeps running.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

#include "guest_os_session.h"
#include "popek_process.h"
#include "sealdisk/format.h"
#include "sealdisk/volume.h"

namespace popek::test::guest_os {
namespace {

namespace sd = popek::sealdisk;

constexpr size_t kImageBytes = 1024 * 1024;

std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::string s = read_text(p);
    return {s.begin(), s.end()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(b.data()),
                                                              static_cast<std::streamsize>(b.size()));
}

/// The geometry the image's header describes (parsed on the host with the format's own parser).
sd::Geometry geometry_of(const std::vector<uint8_t>& image) {
    sd::Header h;
    sd::Geometry g;
    EXPECT_EQ(sd::parse_header(image.data(), image.size(), h, g), sd::ParseError::None);
    return g;
}

size_t data_offset(const sd::Geometry& g, uint64_t sector) { return g.data_sector(sector) * sd::kSectorSize; }

class GuestOsStorageTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override {
        SKIP_UNLESS_ENGINE_USABLE(GetParam().accel);
        m_disk = m_dir.file("sealed.img", std::string(kImageBytes, '\0'));
    }

    /// Boots with the disk, runs `commands` in order, powers off; the output of each.
    std::vector<std::string> boot(const std::vector<std::string>& commands, std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), {"--disk", m_disk.string()});
        auto s = ConsoleSession::start(GetParam(), extra);
        std::vector<std::string> out;
        if (!s || !s->wait_for("$ ", 30s)) {
            ADD_FAILURE() << "no prompt: " << (s ? s->output() : "");
            return out;
        }
        for (const auto& c : commands) out.push_back(s->run(c, 60s));
        s->send("exit\n");
        EXPECT_EQ(s->finish(), 0) << s->output();
        return out;
    }

    ScratchDir m_dir;
    fs::path m_disk;
};

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

/// Whether popek's own engines (interp, bt) show the guest AES-NI and PCLMULQDQ in CPUID: they
/// pass the host's bits through (src/emu/interp/cpuid.cpp), so where libsodium finds both here.
bool engine_offers_aes() { return sodium_init() >= 0 && sd::cipher_available(sd::kCipherAes256Gcm); }

TEST_P(GuestOsStorageTest, PutLeavesNoPlaintextOnTheImageAndPersistsAcrossReboots) {
    auto first = boot({"sdisk put the quick sealed fox 4242", "sdisk cat", "sdisk info"});
    ASSERT_EQ(first.size(), 3u);
    EXPECT_TRUE(has(first[0], "sdisk: formatted /dev/xvda: ")) << first[0];
    EXPECT_TRUE(has(first[0], "sdisk: put 26 bytes\n")) << first[0];
    EXPECT_EQ(first[1], "the quick sealed fox 4242\n");
    // The default cipher: AES-256-GCM where the guest's CPU has AES-NI, else XChaCha20-Poly1305.
    const bool aes = has(first[2], "popek sealed disk v2, cipher aes-256-gcm + blake2b tree");
    EXPECT_TRUE(aes || has(first[2], "popek sealed disk v2, cipher xchacha20-poly1305 + blake2b tree")) << first[2];
    if (GetParam().accel != std::string("kvm")) {
        EXPECT_EQ(aes, engine_offers_aes()) << "the default is AES-256-GCM exactly where the guest has AES-NI";
    }
    const std::vector<uint8_t> image = read_bytes(m_disk);
    for (const std::string needle : {"quick sealed fox", "sealed fox", "4242"})
        EXPECT_EQ(std::search(image.begin(), image.end(), needle.begin(), needle.end()), image.end()) << needle;
    sd::Geometry g = geometry_of(image);
    EXPECT_GT(g.data_sectors, 1500u);
    EXPECT_LE(g.total_sectors(), kImageBytes / sd::kSectorSize);
    // The host tool shows the public header only: version, cipher, sizes, generation (format + put).
    auto inspect = popek::test::run_popek({"disk-inspect", m_disk.string()});
    EXPECT_EQ(inspect.status, 0) << inspect.err;
    EXPECT_TRUE(has(inspect.out, std::string(": popek sealed disk, format version 2\ncipher: ") +
                                     (aes ? "AES-256-GCM" : "XChaCha20-Poly1305") + " per 4 KiB unit"))
        << inspect.out;
    EXPECT_TRUE(has(inspect.out, "volume: " + std::to_string(g.data_sectors) + " data sectors")) << inspect.out;
    EXPECT_TRUE(has(inspect.out, "generation: 2 header writes\n")) << inspect.out;
    EXPECT_FALSE(has(inspect.out, "fox")) << inspect.out;
    auto second = boot({"sdisk cat"});
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0], "the quick sealed fox 4242\n");
}

TEST_P(GuestOsStorageTest, EachCipherCanBeForcedAndAesNeedsAesNi) {
    // XChaCha20-Poly1305 everywhere; AES-256-GCM where the guest's CPUID has AES-NI and PCLMULQDQ
    // (else a clear error and the disk untouched). Both then survive a reboot and tampering.
    auto out = boot({"sdisk format --cipher xchacha20", "sdisk put chacha words", "sdisk info", "sdisk format --cipher aes256gcm",
                     "sdisk put aes sealed words", "sdisk cat", "sdisk info", "sdisk format --cipher rot13"});
    ASSERT_EQ(out.size(), 8u);
    EXPECT_TRUE(has(out[0], "sdisk: formatted /dev/xvda: ")) << out[0];
    EXPECT_TRUE(has(out[0], " tree nodes, xchacha20-poly1305\n")) << out[0];
    EXPECT_TRUE(has(out[2], "cipher xchacha20-poly1305 + blake2b tree")) << out[2];
    EXPECT_TRUE(has(out[7], "usage: sdisk")) << out[7];
    const bool aes = has(out[3], " tree nodes, aes-256-gcm\n");
    if (aes) {
        EXPECT_EQ(out[5], "aes sealed words\n");
        EXPECT_TRUE(has(out[6], "cipher aes-256-gcm + blake2b tree")) << out[6];
    } else {
        EXPECT_TRUE(has(out[3], "sdisk: format: the cipher aes-256-gcm needs AES-NI and PCLMULQDQ, which this CPU does "
                                "not have (use --cipher xchacha20)"))
            << out[3];
        EXPECT_EQ(out[5], "aes sealed words\n") << "the old volume is kept and written";
        EXPECT_TRUE(has(out[6], "cipher xchacha20-poly1305")) << out[6];
    }
    if (GetParam().accel != std::string("kvm") && engine_offers_aes()) {
        EXPECT_TRUE(aes) << "the engine emulates AES-NI and PCLMULQDQ: the guest must be able to use them";
    }
    std::vector<uint8_t> image = read_bytes(m_disk);
    const std::string needle = "aes sealed words";
    EXPECT_EQ(std::search(image.begin(), image.end(), needle.begin(), needle.end()), image.end());
    image[data_offset(geometry_of(image), 0) + 5] ^= 0x10;
    write_bytes(m_disk, image);
    auto after = boot({"sdisk info", "sdisk cat", "echo alive"});
    ASSERT_EQ(after.size(), 3u);
    EXPECT_TRUE(has(after[0], aes ? "cipher aes-256-gcm" : "cipher xchacha20-poly1305")) << after[0];
    EXPECT_TRUE(has(after[1], "sdisk: integrity error: cat: sector 0 failed verification")) << after[1];
    EXPECT_EQ(after[2], "alive\n");
}

TEST_P(GuestOsStorageTest, AnAesDiskFormattedOnTheHostOpensInTheGuestOrFailsClearly) {
    // The host's sealdisk::Volume (AES-NI here) formats with the shipped /etc/keys/disk secret and
    // writes a sector; the guest reads it back, or, where its CPUID has no AES-NI, refuses to
    // mount with a message naming the cipher.
    if (!engine_offers_aes()) GTEST_SKIP() << "host CPU without AES-NI/PCLMULQDQ";
    const std::string hex = read_text(source_file("etc/keys/disk"));
    ASSERT_GE(hex.size(), 64u);
    uint8_t secret[sd::kSecretBytes];
    for (size_t i = 0; i < sd::kSecretBytes; ++i) secret[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    std::vector<uint8_t> image(kImageBytes, 0);
    {
        struct Mem {
            static long io(void* c, uint64_t s, void* b, uint64_t n, bool w) {
                auto* img = static_cast<std::vector<uint8_t>*>(c);
                if ((s + n) * sd::kSectorSize > img->size()) return -5;
                if (w) std::memcpy(img->data() + s * sd::kSectorSize, b, n * sd::kSectorSize);
                else std::memcpy(b, img->data() + s * sd::kSectorSize, n * sd::kSectorSize);
                return 0;
            }
        };
        sd::SectorDevice dev;
        dev.context = &image;
        dev.sectors = kImageBytes / sd::kSectorSize;
        dev.read = [](void* c, uint64_t s, void* b, uint64_t n) { return Mem::io(c, s, b, n, false); };
        dev.write = [](void* c, uint64_t s, const void* b, uint64_t n) { return Mem::io(c, s, const_cast<void*>(b), n, true); };
        std::vector<uint8_t> tree(2048 * sd::kSectorSize);
        sd::Volume v;
        ASSERT_EQ(v.format(dev, secret, tree.data(), tree.size(), sd::kCipherAes256Gcm), sd::Status::Ok);
        std::vector<uint8_t> sector(sd::kSectorSize, 0);
        const std::string text = "written on the host\n";
        std::memcpy(sector.data(), text.data(), text.size());
        ASSERT_EQ(v.write(12, sector.data(), 1), sd::Status::Ok);
    }
    write_bytes(m_disk, image);
    auto out = boot({"sdisk read 12", "sdisk info", "echo alive"});
    ASSERT_EQ(out.size(), 3u);
    if (has(out[0], "needs AES-NI")) {
        EXPECT_TRUE(has(out[0], "sdisk: mount: the cipher aes-256-gcm needs AES-NI and PCLMULQDQ, which this CPU does "
                                "not have (the disk was formatted on another CPU)"))
            << out[0];
        EXPECT_EQ(read_bytes(m_disk), image) << "not formatted over";
        EXPECT_FALSE(GetParam().accel != std::string("kvm") && engine_offers_aes()) << out[0];
    } else {
        EXPECT_EQ(out[0], "written on the host\n");
        EXPECT_TRUE(has(out[1], "cipher aes-256-gcm")) << out[1];
    }
    EXPECT_EQ(out[2], "alive\n");
}

TEST_P(GuestOsStorageTest, AFlippedByteIsAnIntegrityErrorAndTheOsGoesOn) {
    // Sector 9 is in the next 4 KiB unit (sectors 8-15): sealed apart from sector 0.
    boot({"sdisk put first sector", "sdisk write 9 ninth sector"});
    std::vector<uint8_t> image = read_bytes(m_disk);
    image[data_offset(geometry_of(image), 0) + 17] ^= 0x20;
    write_bytes(m_disk, image);
    auto out = boot({"sdisk cat", "sdisk read 9", "echo still alive"});
    ASSERT_EQ(out.size(), 3u);
    EXPECT_TRUE(has(out[0], "sdisk: integrity error: cat: sector 0 failed verification")) << out[0];
    EXPECT_FALSE(has(out[0], "first sector")) << out[0];
    EXPECT_EQ(out[1], "ninth sector\n");
    EXPECT_EQ(out[2], "still alive\n");
}

TEST_P(GuestOsStorageTest, SwappedSectorsAreDetected) {
    // Sectors 8 and 16: two 4 KiB units (the sealing granule), swapped whole.
    boot({"sdisk write 8 sector eight", "sdisk write 16 sector sixteen"});
    std::vector<uint8_t> image = read_bytes(m_disk);
    const sd::Geometry g = geometry_of(image);
    std::swap_ranges(image.begin() + static_cast<long>(data_offset(g, 8)),
                     image.begin() + static_cast<long>(data_offset(g, 8) + sd::kUnitBytes),
                     image.begin() + static_cast<long>(data_offset(g, 16)));
    write_bytes(m_disk, image);
    auto out = boot({"sdisk read 8", "sdisk read 16"});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(has(out[0], "sdisk: integrity error: read: sector 8 failed")) << out[0];
    EXPECT_TRUE(has(out[1], "sdisk: integrity error: read: sector 16 failed")) << out[1];
}

TEST_P(GuestOsStorageTest, AnOlderCopyOfASectorIsDetected) {
    boot({"sdisk write 3 old contents"});
    std::vector<uint8_t> image = read_bytes(m_disk);
    const sd::Geometry g = geometry_of(image);
    // Sector 3's whole 4 KiB unit (sectors 0-7), as it was after the first boot.
    const std::vector<uint8_t> old(image.begin() + static_cast<long>(data_offset(g, 0)),
                                   image.begin() + static_cast<long>(data_offset(g, 0) + sd::kUnitBytes));
    boot({"sdisk write 3 new contents"});
    image = read_bytes(m_disk);
    std::copy(old.begin(), old.end(), image.begin() + static_cast<long>(data_offset(g, 0)));
    write_bytes(m_disk, image);
    auto out = boot({"sdisk read 3"});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(has(out[0], "sdisk: integrity error: read: sector 3 failed verification (modified, moved or rolled back)"))
        << out[0];
}

TEST_P(GuestOsStorageTest, HostileDriverDomainFlippingReadRepliesIsDetected) {
    boot({"sdisk put secret words", "sdisk write 9 ninth"});
    const sd::Geometry g = geometry_of(read_bytes(m_disk));
    // A data sector (in unit 0, sectors 0-7): that read fails, the others work.
    ::setenv("POPEK_TEST_BLKIF_FLIP_READ", std::to_string(g.data_sector(0)).c_str(), 1);
    auto out = boot({"sdisk cat", "sdisk read 9", "echo alive"}, {"--driver-domain"});
    // The header: the volume does not mount at all.
    ::setenv("POPEK_TEST_BLKIF_FLIP_READ", "0", 1);
    auto header = boot({"sdisk read 9", "echo alive"}, {"--driver-domain"});
    ::unsetenv("POPEK_TEST_BLKIF_FLIP_READ");
    ASSERT_EQ(out.size(), 3u);
    EXPECT_TRUE(has(out[0], "sdisk: integrity error: cat: sector 0 failed verification")) << out[0];
    EXPECT_EQ(out[1], "ninth\n");
    EXPECT_EQ(out[2], "alive\n");
    ASSERT_EQ(header.size(), 2u);
    EXPECT_TRUE(has(header[0], "sdisk: integrity error: mount: the header does not verify")) << header[0];
    EXPECT_EQ(header[1], "alive\n");
    // The image itself was never changed: a normal boot reads everything.
    auto clean = boot({"sdisk cat"});
    ASSERT_EQ(clean.size(), 1u);
    EXPECT_EQ(clean[0], "secret words\n");
}

TEST_P(GuestOsStorageTest, ThePolicyDecidesWhoUsesTheSealedDisk) {
    // bob may open the raw device but not the disk key: sdisk refuses, the kernel logs the denial.
    std::string bob = policy_key("bob");
    auto policy = m_dir.file("policy", "user bob " + bob + "\nboot bob\nallow * exec /bin/*\n"
                                       "allow bob open /dev/xvda\nallow bob write /dev/xvda\n");
    auto table = m_dir.path() / "table";
    ASSERT_TRUE(pack_table(table, {program("sh"), program("sdisk"), program("echo"), policy.string() + "=/etc/policy",
                                   source_file("etc/keys/disk").string() + "=/etc/keys/disk"}));
    auto out = boot({"sdisk put from bob", "echo alive"}, {"--initrd", table.string()});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_TRUE(has(out[0], "denied: user=bob action=open object=/etc/keys/disk")) << out[0];
    EXPECT_TRUE(has(out[0], "sdisk: /etc/keys/disk: permission denied (the policy does not let bob use the sealed disk)"))
        << out[0];
    EXPECT_EQ(out[1], "alive\n");
    EXPECT_EQ(read_text(m_disk), std::string(kImageBytes, '\0')) << "nothing was formatted or written";
}

TEST_P(GuestOsStorageTest, SealedShareFilesHideTheirContentsAndCannotBeChangedOrMoved) {
    const fs::path share = m_dir.path() / "share";
    fs::create_directories(share / "out");
    auto first = boot({"sdisk fput /share/out/note.txt private words 77", "sdisk fcat /share/out/note.txt"},
                      {"--share", share.string()});
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0], "sdisk: fput: /share/out/note.txt: 17 bytes sealed (73 on the host)\n");
    EXPECT_EQ(first[1], "private words 77\n");
    std::vector<uint8_t> sealed = read_bytes(share / "out" / "note.txt");
    ASSERT_EQ(sealed.size(), 73u);
    EXPECT_EQ(std::string(sealed.begin(), sealed.begin() + 8), "POPEKSF1");
    EXPECT_FALSE(has(std::string(sealed.begin(), sealed.end()), "private"));
    write_bytes(share / "out" / "moved.txt", sealed);   // the same bytes under another name
    sealed[50] ^= 0x04;
    write_bytes(share / "out" / "changed.txt", sealed);
    auto second = boot({"sdisk fcat /share/out/note.txt", "sdisk fcat /share/out/moved.txt",
                        "sdisk fcat /share/out/changed.txt", "echo alive"},
                       {"--share", share.string()});
    ASSERT_EQ(second.size(), 4u);
    EXPECT_EQ(second[0], "private words 77\n");
    EXPECT_TRUE(has(second[1], "sdisk: integrity error: fcat: /share/out/moved.txt: integrity check failed")) << second[1];
    EXPECT_TRUE(has(second[2], "sdisk: integrity error: fcat: /share/out/changed.txt: integrity check failed")) << second[2];
    EXPECT_EQ(second[3], "alive\n");
}

INSTANTIATE_TEST_SUITE_P(Engines, GuestOsStorageTest, kXenPlatforms, name_of);

}  // namespace
}  // namespace popek::test::guest_os
