// The sealed disk layer (src/sealdisk): format, persistence, and detection of modified, swapped
// and rolled-back sectors and tree nodes, on an in-memory disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sealdisk/inspect.h"
#include "sealdisk/sealed_file.h"
#include "sealdisk_test_util.h"

using namespace popek::sealdisk;
using popek::sealdisk::testing::MemoryDisk;
using popek::sealdisk::testing::test_secret;

namespace {

constexpr uint64_t kDiskSectors = 2048;   // 1 MiB

std::vector<uint8_t> text_sector(const std::string& text) {
    std::vector<uint8_t> s(kSectorSize, 0);
    std::memcpy(s.data(), text.data(), std::min<size_t>(text.size(), kSectorSize));
    return s;
}

bool contains(const std::vector<uint8_t>& hay, const std::string& needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

struct Mounted {
    std::vector<uint8_t> tree = std::vector<uint8_t>(256 * 1024);
    Volume volume;
    Status mount(MemoryDisk& disk, const uint8_t* secret = test_secret()) {
        return volume.mount(disk.device(), secret, tree.data(), tree.size());
    }
    Status format(MemoryDisk& disk) { return volume.format(disk.device(), test_secret(), tree.data(), tree.size()); }
};

/// A disk formatted and written: sector 0 "alpha", sector 1 "beta", sector 40 "gamma".
MemoryDisk written_disk() {
    MemoryDisk disk(kDiskSectors);
    Mounted m;
    EXPECT_EQ(m.format(disk), Status::Ok);
    EXPECT_EQ(m.volume.write(0, text_sector("alpha secret").data(), 1), Status::Ok);
    EXPECT_EQ(m.volume.write(1, text_sector("beta secret").data(), 1), Status::Ok);
    EXPECT_EQ(m.volume.write(40, text_sector("gamma secret").data(), 1), Status::Ok);
    return disk;
}

Status read_one(Mounted& m, uint64_t sector, std::vector<uint8_t>& out) {
    out.assign(kSectorSize, 0xee);
    return m.volume.read(sector, out.data(), 1);
}

}  // namespace

TEST(SealDiskGeometry, TreeLevelsAndFit) {
    Geometry g;
    ASSERT_TRUE(compute_geometry(kUnitSectors, g));
    EXPECT_EQ(g.levels, 1u);
    EXPECT_EQ(g.nodes, 1u);
    EXPECT_EQ(g.units, 1u);
    ASSERT_TRUE(compute_geometry((16 * 16 + 1) * kUnitSectors, g));   // 17 leaves -> 2 inner nodes -> top
    EXPECT_EQ(g.levels, 3u);
    EXPECT_EQ(g.nodes, 17u + 2u + 1u);
    EXPECT_FALSE(compute_geometry(0, g));
    EXPECT_FALSE(compute_geometry(1, g));   // not whole 4 KiB units
    EXPECT_FALSE(compute_geometry(kUnitSectors + 4, g));
    EXPECT_FALSE(compute_geometry(kMaxDataSectors + kUnitSectors, g));
    ASSERT_TRUE(fit_geometry(kDiskSectors, 1000, g));
    EXPECT_LE(g.total_sectors(), kDiskSectors);
    EXPECT_EQ(g.data_sectors % kUnitSectors, 0u);
    Geometry bigger;
    EXPECT_TRUE(!compute_geometry(g.data_sectors + kUnitSectors, bigger) || bigger.total_sectors() > kDiskSectors);
    ASSERT_TRUE(fit_geometry(kDiskSectors, 4, g));   // the node budget caps the volume
    EXPECT_LE(g.nodes, 4u);
    EXPECT_FALSE(fit_geometry(2, 100, g));
    EXPECT_FALSE(fit_geometry(1 + 1 + kUnitSectors - 1, 100, g));   // no room for one unit
    EXPECT_TRUE(fit_geometry(1 + 1 + kUnitSectors, 100, g));
}

TEST(SealDisk, FreshDiskIsNotFormattedAndFormatMounts) {
    MemoryDisk disk(kDiskSectors);
    Mounted m;
    EXPECT_EQ(m.mount(disk), Status::NotFormatted);
    ASSERT_EQ(m.format(disk), Status::Ok);
    EXPECT_TRUE(m.volume.mounted());
    EXPECT_EQ(m.volume.header().generation, 1u);
    std::vector<uint8_t> out;
    ASSERT_EQ(read_one(m, 5, out), Status::Ok);   // never written: zeros
    EXPECT_EQ(out, std::vector<uint8_t>(kSectorSize, 0));
    Mounted again;
    EXPECT_EQ(again.mount(disk), Status::Ok);
}

TEST(SealDisk, DataPersistsAcrossMountsAndLeavesNoPlaintext) {
    MemoryDisk disk = written_disk();
    EXPECT_FALSE(contains(disk.bytes, "secret"));
    Mounted m;
    ASSERT_EQ(m.mount(disk), Status::Ok);
    std::vector<uint8_t> out;
    ASSERT_EQ(read_one(m, 40, out), Status::Ok);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data())), "gamma secret");
    std::vector<uint8_t> many(3 * kSectorSize);
    ASSERT_EQ(m.volume.read(0, many.data(), 3), Status::Ok);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(many.data() + kSectorSize)), "beta secret");
}

TEST(SealDisk, FlippedDataByteIsAnIntegrityErrorOnThatSectorOnly) {
    MemoryDisk disk = written_disk();
    Mounted probe;
    ASSERT_EQ(probe.mount(disk), Status::Ok);
    const Geometry g = probe.volume.geometry();
    disk.sector(g.data_sector(40))[100] ^= 0x01;
    Mounted m;
    ASSERT_EQ(m.mount(disk), Status::Ok);
    std::vector<uint8_t> out;
    EXPECT_EQ(read_one(m, 40, out), Status::Integrity);
    EXPECT_EQ(m.volume.bad_sector(), 40u);
    EXPECT_EQ(out, std::vector<uint8_t>(kSectorSize, 0));   // nothing unauthenticated handed out
    EXPECT_EQ(read_one(m, 0, out), Status::Ok);
    EXPECT_NE(std::string(status_name(Status::Integrity)).find("integrity"), std::string::npos);
}

TEST(SealDisk, SwappedSectorsAreDetected) {
    MemoryDisk disk = written_disk();
    Mounted probe;
    ASSERT_EQ(probe.mount(disk), Status::Ok);
    const Geometry g = probe.volume.geometry();
    MemoryDisk inside = disk;   // two sectors of one unit
    std::swap_ranges(inside.sector(g.data_sector(0)), inside.sector(g.data_sector(0)) + kSectorSize,
                     inside.sector(g.data_sector(1)));
    Mounted m;
    ASSERT_EQ(m.mount(inside), Status::Ok);
    std::vector<uint8_t> out;
    EXPECT_EQ(read_one(m, 0, out), Status::Integrity);
    EXPECT_EQ(read_one(m, 1, out), Status::Integrity);
    EXPECT_EQ(m.volume.bad_sector(), 1u);
    // Two whole 4 KiB units (0: sectors 0-7, 5: sectors 40-47), both written: each fails at the other's address.
    std::swap_ranges(disk.sector(g.data_sector(0)), disk.sector(g.data_sector(0)) + kUnitBytes,
                     disk.sector(g.data_sector(40)));
    Mounted m2;
    ASSERT_EQ(m2.mount(disk), Status::Ok);
    EXPECT_EQ(read_one(m2, 0, out), Status::Integrity);
    EXPECT_EQ(read_one(m2, 40, out), Status::Integrity);
    EXPECT_EQ(read_one(m2, 8, out), Status::Ok);
}

TEST(SealDisk, AUnitIsSealedWholeAndPartialWritesKeepItsOtherSectors) {
    MemoryDisk disk = written_disk();
    Mounted m;
    ASSERT_EQ(m.mount(disk), Status::Ok);
    const Geometry g = m.volume.geometry();
    std::vector<uint8_t> out;
    ASSERT_EQ(read_one(m, 0, out), Status::Ok);   // sector 1 was written after it, into the same unit
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data())), "alpha secret");
    ASSERT_EQ(read_one(m, 41, out), Status::Ok);   // unwritten sector of a written unit
    EXPECT_EQ(out, std::vector<uint8_t>(kSectorSize, 0));
    ASSERT_EQ(m.volume.write(48, text_sector("unit six").data(), 1), Status::Ok);
    // A byte of sector 41 changed: the whole unit (40-47) fails, the read names the sector asked for.
    disk.sector(g.data_sector(41))[3] ^= 0x80;
    Mounted t;
    ASSERT_EQ(t.mount(disk), Status::Ok);
    EXPECT_EQ(read_one(t, 40, out), Status::Integrity);
    EXPECT_EQ(t.volume.bad_sector(), 40u);
    std::vector<uint8_t> many(24 * kSectorSize, 0xee);
    EXPECT_EQ(t.volume.read(32, many.data(), 24), Status::Integrity);   // units 4, 5 and 6 in one device read
    EXPECT_EQ(t.volume.bad_sector(), 40u);
    EXPECT_EQ(many, std::vector<uint8_t>(many.size(), 0))
        << "unit 4 (unwritten) read, then zeroed from the failed unit on: not even unit 6's ciphertext is handed out";
    // A partial write into the tampered unit cannot keep its other sectors: refused, nothing written.
    const uint64_t writes = disk.writes;
    EXPECT_EQ(t.volume.write(42, text_sector("into a bad unit").data(), 1), Status::Integrity);
    EXPECT_EQ(t.volume.bad_sector(), 42u);
    EXPECT_EQ(disk.writes, writes);
    // A whole-unit write replaces it.
    std::vector<uint8_t> unit(kUnitBytes, 0x33);
    ASSERT_EQ(t.volume.write(40, unit.data(), kUnitSectors), Status::Ok);
    ASSERT_EQ(read_one(t, 47, out), Status::Ok);
    EXPECT_EQ(out, std::vector<uint8_t>(kSectorSize, 0x33));
}

TEST(SealDisk, OlderCopyOfASectorIsDetected) {
    MemoryDisk disk = written_disk();
    Mounted probe;
    ASSERT_EQ(probe.mount(disk), Status::Ok);
    const Geometry g = probe.volume.geometry();
    const uint64_t leaf = 40 / kUnitSectors / kEntriesPerLeaf;
    std::vector<uint8_t> old(disk.sector(g.data_sector(40)), disk.sector(g.data_sector(40)) + kUnitBytes);
    std::vector<uint8_t> old_leaf(disk.sector(g.node_sector(leaf)), disk.sector(g.node_sector(leaf)) + kSectorSize);
    ASSERT_EQ(probe.volume.write(40, text_sector("gamma v2").data(), 1), Status::Ok);
    // The old ciphertext (the whole unit) alone: its version is behind the tree's.
    std::memcpy(disk.sector(g.data_sector(40)), old.data(), kUnitBytes);
    Mounted m;
    ASSERT_EQ(m.mount(disk), Status::Ok);
    std::vector<uint8_t> out;
    EXPECT_EQ(read_one(m, 40, out), Status::Integrity);
    // The old ciphertext and its old leaf: the tree above no longer matches.
    std::memcpy(disk.sector(g.node_sector(leaf)), old_leaf.data(), kSectorSize);
    Mounted m2;
    EXPECT_EQ(m2.mount(disk), Status::Integrity);
    EXPECT_EQ(m2.volume.bad_node(), leaf);
}

TEST(SealDisk, WholeDiskRollbackIsNotDetected) {
    // The documented limit: a consistent earlier image (header and all) mounts.
    MemoryDisk disk = written_disk();
    std::vector<uint8_t> snapshot = disk.bytes;
    Mounted m;
    ASSERT_EQ(m.mount(disk), Status::Ok);
    ASSERT_EQ(m.volume.write(0, text_sector("newer").data(), 1), Status::Ok);
    disk.bytes = snapshot;
    Mounted old;
    ASSERT_EQ(old.mount(disk), Status::Ok);
    std::vector<uint8_t> out;
    ASSERT_EQ(read_one(old, 0, out), Status::Ok);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data())), "alpha secret");
}

TEST(SealDisk, AWriteRepeatedAfterAWholeDiskRollbackGetsAFreshNonce) {
    // A rolled-back disk repeats a unit's version: the nonce must still be new (random salt per
    // write call), or two plaintexts would share a keystream and a Poly1305 key.
    MemoryDisk disk = written_disk();
    const std::vector<uint8_t> snapshot = disk.bytes;
    std::vector<std::vector<uint8_t>> leaves, units;
    for (const char* text : {"first text", "other text"}) {
        disk.bytes = snapshot;
        Mounted m;
        ASSERT_EQ(m.mount(disk), Status::Ok);
        const Geometry g = m.volume.geometry();
        std::vector<uint8_t> both(2 * kSectorSize, 0);
        std::memcpy(both.data(), text, std::strlen(text));
        ASSERT_EQ(m.volume.write(40, both.data(), 2), Status::Ok);
        leaves.emplace_back(disk.sector(g.node_sector(0)) + 5 * kEntryBytes, disk.sector(g.node_sector(0)) + 6 * kEntryBytes);
        units.emplace_back(disk.sector(g.data_sector(40)), disk.sector(g.data_sector(40)) + kUnitBytes);
    }
    EXPECT_EQ(load_le64(leaves[0].data()), load_le64(leaves[1].data()));   // the same version twice
    EXPECT_NE(std::vector<uint8_t>(leaves[0].begin() + 8, leaves[0].begin() + 16),
              std::vector<uint8_t>(leaves[1].begin() + 8, leaves[1].begin() + 16)) << "the same nonce salt";
    // Same keystream would make the ciphertexts equal wherever the plaintexts are (zeros from byte 10 on).
    EXPECT_FALSE(std::equal(units[0].begin() + 16, units[0].end(), units[1].begin() + 16));
}

TEST(SealDisk, WrongSecretTamperedHeaderOrNodeFailsTheMount) {
    MemoryDisk disk = written_disk();
    uint8_t other[kSecretBytes] = {};
    Mounted wrong;
    EXPECT_EQ(wrong.mount(disk, other), Status::Integrity);
    MemoryDisk gen = disk;
    gen.sector(0)[hdr::kGeneration] ^= 1;   // a public field, still under the MAC
    Mounted m1;
    EXPECT_EQ(m1.mount(gen), Status::Integrity);
    MemoryDisk node = disk;
    node.sector(1)[8] ^= 0x40;   // leaf 0, entry 0's nonce salt
    Mounted m2;
    EXPECT_EQ(m2.mount(node), Status::Integrity);
    MemoryDisk magic = disk;
    magic.sector(0)[0] = 'X';
    Mounted m3;
    EXPECT_EQ(m3.mount(magic), Status::BadFormat);
    EXPECT_EQ(m3.volume.parse_error(), ParseError::BadMagic);
}

TEST(SealDisk, RangeAndFailedWritesAreErrorsNotCrashes) {
    MemoryDisk disk(kDiskSectors);
    Mounted m;
    ASSERT_EQ(m.format(disk), Status::Ok);
    const uint64_t d = m.volume.geometry().data_sectors;
    std::vector<uint8_t> buf(2 * kSectorSize);
    EXPECT_EQ(m.volume.read(d, buf.data(), 1), Status::Range);
    EXPECT_EQ(m.volume.read(d - 1, buf.data(), 2), Status::Range);
    EXPECT_EQ(m.volume.write(~uint64_t{0}, buf.data(), 2), Status::Range);
    EXPECT_EQ(m.volume.read(d - 1, buf.data(), 1), Status::Ok);
    disk.fail_writes = true;
    EXPECT_EQ(m.volume.write(0, buf.data(), 1), Status::Io);
    EXPECT_EQ(m.volume.read(0, buf.data(), 1), Status::NotMounted);
}

TEST(SealDisk, MultiChunkWritesCommitOnce) {
    MemoryDisk disk(kDiskSectors);
    Mounted m;
    ASSERT_EQ(m.format(disk), Status::Ok);
    ASSERT_EQ(m.volume.write(204, text_sector("after the run").data(), 1), Status::Ok);
    std::vector<uint8_t> data(200 * kSectorSize);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + i / 512);
    const uint64_t before = disk.writes;
    ASSERT_EQ(m.volume.write(3, data.data(), 200), Status::Ok);   // sectors 3-202: units 0-25, both ends partial
    // 2 data chunks (16 + 10 units), one write per tree level, one header write.
    EXPECT_EQ(disk.writes - before, 2 + m.volume.geometry().levels + 1);
    Mounted again;
    ASSERT_EQ(again.mount(disk), Status::Ok);
    std::vector<uint8_t> back(data.size());
    ASSERT_EQ(again.volume.read(3, back.data(), 200), Status::Ok);
    EXPECT_EQ(back, data);
    std::vector<uint8_t> out;
    ASSERT_EQ(read_one(again, 2, out), Status::Ok);   // the partial units' other sectors are kept
    EXPECT_EQ(out, std::vector<uint8_t>(kSectorSize, 0));
    ASSERT_EQ(read_one(again, 204, out), Status::Ok);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out.data())), "after the run");
    std::vector<uint8_t> odd(5 * kSectorSize);   // an unaligned read across a unit boundary
    ASSERT_EQ(again.volume.read(198, odd.data(), 5), Status::Ok);
    EXPECT_TRUE(std::equal(odd.begin(), odd.end(), data.begin() + 195 * kSectorSize));
}

TEST(SealDiskHeader, HostileHeadersAreRejected) {
    MemoryDisk disk = written_disk();
    Header h;
    Geometry g;
    ASSERT_EQ(parse_header(disk.sector(0), kSectorSize, h, g), ParseError::None);
    EXPECT_EQ(parse_header(disk.sector(0), kSectorSize - 1, h, g), ParseError::TooShort);
    auto with = [&](size_t off, uint64_t v, bool wide) {
        std::vector<uint8_t> s(disk.sector(0), disk.sector(0) + kSectorSize);
        if (wide) store_le64(s.data() + off, v);
        else store_le32(s.data() + off, static_cast<uint32_t>(v));
        return parse_header(s.data(), s.size(), h, g);
    };
    EXPECT_EQ(with(hdr::kVersion, 1, false), ParseError::BadVersion);   // per-sector v1: refused
    EXPECT_EQ(with(hdr::kVersion, 3, false), ParseError::BadVersion);
    EXPECT_EQ(with(hdr::kUnitSectors, 1, false), ParseError::BadGeometry);
    EXPECT_EQ(with(hdr::kCipher, 7, false), ParseError::BadCipher);
    EXPECT_EQ(with(hdr::kKdf, 0, false), ParseError::BadKdf);
    EXPECT_EQ(with(hdr::kFanout, 2, false), ParseError::BadGeometry);
    EXPECT_EQ(with(hdr::kDataSectors, 0, true), ParseError::BadGeometry);
    EXPECT_EQ(with(hdr::kDataSectors, ~uint64_t{0}, true), ParseError::BadGeometry);
    EXPECT_EQ(with(hdr::kMetaSectors, 1, true), ParseError::BadGeometry);
    EXPECT_EQ(with(hdr::kRawSectors, 3, true), ParseError::BadGeometry);
    EXPECT_EQ(with(hdr::kReserved + 8, 1, true), ParseError::BadReserved);
    uint8_t zero[kSectorSize] = {};
    EXPECT_EQ(parse_header(zero, sizeof zero, h, g), ParseError::AllZero);
}

TEST(SealDiskInspect, ShowsThePublicHeaderAndRefusesOtherImages) {
    MemoryDisk disk = written_disk();
    const std::string path = ::testing::TempDir() + "/sealdisk-inspect.img";
    auto save = [&](const std::vector<uint8_t>& bytes) {
        FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
        std::fclose(f);
    };
    save(disk.bytes);
    auto report = inspect_image(path);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_NE(report->find("format version 2\n"), std::string::npos) << *report;
    EXPECT_NE(report->find("per 4 KiB unit"), std::string::npos) << *report;
    EXPECT_NE(report->find("disk: 2048 sectors when formatted, 2048 now"), std::string::npos) << *report;
    EXPECT_NE(report->find("generation: 4 header writes"), std::string::npos) << *report;   // format + 3 writes
    EXPECT_EQ(report->find("secret"), std::string::npos);
    save(std::vector<uint8_t>(disk.bytes.begin(), disk.bytes.begin() + 40 * kSectorSize));
    ASSERT_FALSE(inspect_image(path));
    EXPECT_NE(inspect_image(path).error().message.find("shorter than the volume"), std::string::npos);
    save(std::vector<uint8_t>(4 * kSectorSize, 0));
    EXPECT_NE(inspect_image(path).error().message.find("not formatted"), std::string::npos);
    EXPECT_FALSE(inspect_image(path + ".missing"));
    std::remove(path.c_str());
}

TEST(SealedFile, OpensOnlyUnchangedUnderItsOwnPathAndKey) {
    const std::string text = "private words 77\n";
    std::vector<uint8_t> sealed(text.size() + kFileOverhead);
    size_t n = 0;
    ASSERT_EQ(seal_file(test_secret(), "/share/out/a", reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                        sealed.data(), sealed.size(), &n),
              FileStatus::Ok);
    ASSERT_EQ(n, sealed.size());
    EXPECT_FALSE(contains(sealed, "private"));
    std::vector<uint8_t> out(64);
    size_t got = 0;
    ASSERT_EQ(open_file(test_secret(), "/share/out/a", sealed.data(), n, out.data(), out.size(), &got), FileStatus::Ok);
    EXPECT_EQ(std::string(out.begin(), out.begin() + static_cast<long>(got)), text);
    EXPECT_EQ(open_file(test_secret(), "/share/out/b", sealed.data(), n, out.data(), out.size(), &got),
              FileStatus::Integrity) << "moved to another name";
    uint8_t other[kSecretBytes] = {};
    EXPECT_EQ(open_file(other, "/share/out/a", sealed.data(), n, out.data(), out.size(), &got), FileStatus::Integrity);
    for (size_t at : {size_t{16}, size_t{40}, n - 1}) {   // nonce, ciphertext, tag
        std::vector<uint8_t> bad = sealed;
        bad[at] ^= 1;
        EXPECT_EQ(open_file(test_secret(), "/share/out/a", bad.data(), n, out.data(), out.size(), &got),
                  FileStatus::Integrity) << at;
    }
    EXPECT_EQ(open_file(test_secret(), "/share/out/a", sealed.data(), n - 1, out.data(), out.size(), &got),
              FileStatus::Integrity);
    EXPECT_EQ(open_file(test_secret(), "/share/out/a", sealed.data(), 20, out.data(), out.size(), &got),
              FileStatus::BadFormat);
    EXPECT_EQ(open_file(test_secret(), "/share/out/a", sealed.data(), n, out.data(), 4, &got), FileStatus::TooSmall);
    std::vector<uint8_t> v2 = sealed;
    v2[8] = 2;
    EXPECT_EQ(open_file(test_secret(), "/share/out/a", v2.data(), n, out.data(), out.size(), &got), FileStatus::BadFormat);
    EXPECT_EQ(seal_file(test_secret(), "/x", out.data(), 10, sealed.data(), 10 + kFileOverhead - 1, &n),
              FileStatus::TooSmall);
}
