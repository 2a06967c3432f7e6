// The snapshot reader on hostile input (src/snapshot/, docs/snapshot.md): truncated files, bad
// magic, other versions, CRC mismatches, length overflows, unknown and duplicate sections, a
// memory file of the wrong size, and device sections with values out of range. Each gives one
// clear error and sets nothing that runs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "emu/irqchip/guest_clock.h"
#include "emu/irqchip/pit_channel.h"
#include "irqchip_test_util.h"
#include "snapshot/config_record.h"
#include "snapshot/cpu_record.h"
#include "snapshot/mem_file.h"
#include "snapshot/snapshot_file.h"

namespace popek::snapshot {
namespace {

constexpr std::string_view kVersion = "test-1.0";

Image sample() {
    Image im;
    im.header.popek_version = std::string(kVersion);
    im.header.ram_bytes = 64 << 20;
    im.header.vcpus = 1;
    im.sections.push_back({tags::kConfig, 0, {1, 2, 3}});
    im.sections.push_back({tags::kCpu, 0, std::vector<uint8_t>(100, 0xab)});
    im.sections.push_back({tags::kUart, 0, {}});
    return im;
}

/// A file of `body` with its CRC appended (to reach the checks behind the CRC).
std::vector<uint8_t> with_crc(std::vector<uint8_t> body) {
    Writer w;
    w.bytes(body);
    w.u32(crc32(body));
    return w.buffer();
}

/// The header fields up to the section count, as encode writes them.
Writer header(uint32_t sections, uint32_t version = kFormatVersion) {
    Writer w;
    w.bytes(std::span(reinterpret_cast<const uint8_t*>(kMagic), sizeof kMagic));
    w.u32(version);
    w.str(kVersion);
    w.u64(64 << 20);
    w.u32(1);
    w.u32(sections);
    return w;
}

std::string error_of(std::span<const uint8_t> bytes) {
    auto r = decode(bytes, kVersion);
    return r ? std::string("<decoded>") : r.error().message;
}

TEST(SnapshotFile, RoundTrips) {
    const auto bytes = encode(sample());
    auto back = decode(bytes, kVersion);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->header.ram_bytes, uint64_t{64} << 20);
    ASSERT_EQ(back->sections.size(), 3u);
    EXPECT_EQ(back->find(tags::kCpu)->payload, std::vector<uint8_t>(100, 0xab));
    EXPECT_EQ(back->find(tags::kCpu, 1), nullptr);
}

TEST(SnapshotFile, EveryTruncationIsAnErrorNotACrash) {
    const auto bytes = encode(sample());
    for (size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode(std::span(bytes).first(n), kVersion);
        EXPECT_FALSE(r) << n;
    }
}

TEST(SnapshotFile, BadMagic) {
    auto bytes = encode(sample());
    bytes[0] = 'X';
    EXPECT_NE(error_of(bytes).find("bad magic"), std::string::npos);
}

TEST(SnapshotFile, OtherFormatVersionIsNamed) {
    auto bytes = encode(sample());
    bytes[8] = 1;   // the u32 after the magic: version 1 had no PKRU/IA32_PKRS in its CPU section
    EXPECT_NE(error_of(bytes).find("format version 1 is not supported"), std::string::npos) << error_of(bytes);
}

TEST(SnapshotFile, OtherPopekVersionIsRefused) {
    const auto bytes = encode(sample());
    auto r = decode(bytes, "test-2.0");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("made by popek test-1.0"), std::string::npos) << r.error().message;
}

TEST(SnapshotFile, CorruptedByteFailsTheCrc) {
    auto bytes = encode(sample());
    bytes[bytes.size() / 2] ^= 1;
    EXPECT_NE(error_of(bytes).find("CRC-32"), std::string::npos);
}

TEST(SnapshotFile, SectionLengthBeyondTheFile) {
    Writer w = header(1);
    w.u32(tags::kCpu);
    w.u32(0);
    w.u32(1000);   // claims 1000 bytes, 4 follow
    w.u32(0);
    EXPECT_NE(error_of(with_crc(w.buffer())).find("claims 1000 bytes"), std::string::npos) << error_of(with_crc(w.buffer()));
}

TEST(SnapshotFile, SectionLengthOverTheBound) {
    Writer w = header(1);
    w.u32(tags::kCpu);
    w.u32(0);
    w.u32(0xffffffffu);
    EXPECT_NE(error_of(with_crc(w.buffer())).find("a section length"), std::string::npos);
}

TEST(SnapshotFile, SectionCountOverTheBound) {
    EXPECT_NE(error_of(with_crc(header(kMaxSections + 1).buffer())).find("section count"), std::string::npos);
}

TEST(SnapshotFile, FewerSectionsThanCountedIsTruncation) {
    EXPECT_NE(error_of(with_crc(header(2).buffer())).find("truncated"), std::string::npos);
}

TEST(SnapshotFile, UnknownAndDuplicateSections) {
    Writer w = header(1);
    w.u32(tag("ZZZZ"));
    w.u32(0);
    w.u32(0);
    EXPECT_NE(error_of(with_crc(w.buffer())).find("unknown section `ZZZZ`"), std::string::npos);
    Writer d = header(2);
    for (int i = 0; i < 2; ++i) {
        d.u32(tags::kPit);
        d.u32(0);
        d.u32(0);
    }
    EXPECT_NE(error_of(with_crc(d.buffer())).find("appears twice"), std::string::npos);
}

TEST(SnapshotFile, TrailingBytesAreAnError) {
    Writer w = header(0);
    w.u8(7);
    EXPECT_NE(error_of(with_crc(w.buffer())).find("left over"), std::string::npos);
}

TEST(SnapshotReader, StringLengthIsBounded) {
    Writer w;
    w.u32(1u << 31);
    Reader r(w.buffer());
    (void)r.str(kMaxPathBytes);
    EXPECT_FALSE(r.finish("x"));
}

TEST(SnapshotReader, BooleanMustBeZeroOrOne) {
    const uint8_t two = 2;
    Reader r(std::span(&two, 1));
    (void)r.boolean();
    ASSERT_FALSE(r.finish("x"));
}

TEST(SnapshotConfig, RoundTripsAndRejectsZeroVcpus) {
    vmm::VmOptions o;
    o.cpus = 3;
    o.mem_mib = 512;
    o.disks.push_back({"/tmp/disk.img", true});
    o.nets.push_back(vmm::NetOption{vmm::NetOption::Kind::Tap, "tap0", {}, {}, std::array<uint8_t, 6>{2, 0, 0, 0, 0, 1}});
    Writer w;
    encode_config(w, o);
    Reader r(w.buffer());
    const vmm::VmOptions back = decode_config(r);
    ASSERT_TRUE(r.finish("CONF"));
    EXPECT_EQ(back.cpus, 3);
    EXPECT_EQ(back.mem_mib, 512u);
    ASSERT_EQ(back.disks.size(), 1u);
    EXPECT_EQ(back.disks[0].path, "/tmp/disk.img");
    EXPECT_TRUE(back.disks[0].read_only);
    ASSERT_EQ(back.nets.size(), 1u);
    EXPECT_EQ(back.nets[0].tap_name, "tap0");
    EXPECT_TRUE(back.nets[0].mac.has_value());

    w.buffer()[0] = 0;   // vCPU count 0
    Reader bad(w.buffer());
    (void)decode_config(bad);
    EXPECT_FALSE(bad.finish("CONF"));
}

TEST(SnapshotConfig, ShareAndDriverDomainRoundTripAndNeedXen) {
    vmm::VmOptions o;
    o.xen = true;
    o.share = vmm::ShareOption{"/srv/share", true};
    Writer w;
    encode_config(w, o);
    Reader r(w.buffer());
    const vmm::VmOptions back = decode_config(r);
    ASSERT_TRUE(r.finish("CONF"));
    ASSERT_TRUE(back.share.has_value());
    EXPECT_EQ(back.share->path, "/srv/share");
    EXPECT_TRUE(back.share->read_only);

    o.xen = false;   // the popekfs device is a Xen device
    Writer no_xen;
    encode_config(no_xen, o);
    Reader bad(no_xen.buffer());
    (void)decode_config(bad);
    EXPECT_FALSE(bad.finish("CONF"));
    o.share.reset();
    o.driver_domain = true;   // the driver domain serves Xen vbds
    Writer ddom_no_xen;
    encode_config(ddom_no_xen, o);
    Reader bad_ddom(ddom_no_xen.buffer());
    (void)decode_config(bad_ddom);
    EXPECT_FALSE(bad_ddom.finish("CONF"));
    o.xen = true;
    Writer ddom;
    encode_config(ddom, o);
    Reader good_ddom(ddom.buffer());
    EXPECT_TRUE(decode_config(good_ddom).driver_domain);
    EXPECT_TRUE(good_ddom.finish("CONF"));
    o.driver_domain = false;
    o.share = vmm::ShareOption{"", false};
    Writer no_path;
    encode_config(no_path, o);
    Reader empty(no_path.buffer());
    (void)decode_config(empty);
    EXPECT_FALSE(empty.finish("CONF"));
}

TEST(SnapshotCpu, RoundTripsAndRejectsOutOfRangeFields) {
    CpuRecord c;
    c.gpr[3] = 0x1234;
    c.rip = 0xffffffff81000000;
    c.cr0 = hv::kCr0Pe | hv::kCr0Pg;
    c.efer = hv::kEferLma | hv::kEferLme;
    c.cpl = 3;
    c.seg[1].l = true;
    c.fxsave[200] = 9;
    c.halted = true;
    c.pkru = 0x5555'0004;
    c.pkrs = 0x8;
    Writer w;
    encode(w, c);
    Reader r(w.buffer());
    const CpuRecord back = decode_cpu(r);
    ASSERT_TRUE(r.finish("CPU"));
    EXPECT_EQ(back.gpr[3], 0x1234u);
    EXPECT_EQ(back.rip, c.rip);
    EXPECT_EQ(back.cpl, 3);
    EXPECT_TRUE(back.seg[1].l);
    EXPECT_EQ(back.fxsave[200], 9);
    EXPECT_TRUE(back.halted);
    EXPECT_EQ(back.pkru, 0x5555'0004u);
    EXPECT_EQ(back.pkrs, 0x8u);

    // CPL 3 in real mode, and EFER.LMA without paging: refused.
    CpuRecord real = c;
    real.cr0 = 0;
    real.efer = 0;
    Writer w2;
    encode(w2, real);
    Reader r2(w2.buffer());
    (void)decode_cpu(r2);
    EXPECT_FALSE(r2.finish("CPU"));
    CpuRecord lma = c;
    lma.cr0 = hv::kCr0Pe;
    Writer w3;
    encode(w3, lma);
    Reader r3(w3.buffer());
    (void)decode_cpu(r3);
    EXPECT_FALSE(r3.finish("CPU"));
    // PKRU and IA32_PKRS are 32-bit registers (SDM Vol. 3A 4.6.2).
    CpuRecord wide = c;
    wide.pkrs = 1ULL << 32;
    Writer w4;
    encode(w4, wide);
    Reader r4(w4.buffer());
    (void)decode_cpu(r4);
    EXPECT_FALSE(r4.finish("CPU"));
}

TEST(SnapshotDevices, PitChannelOutOfRangeModeAndCountAreRefused) {
    emu::PitChannel ch(true);
    Writer w;
    ch.save(w);
    {
        auto bytes = w.buffer();
        bytes[0] = 6;   // mode 6 does not exist
        Reader r(bytes);
        emu::PitChannel other(true);
        other.load(r);
        EXPECT_FALSE(r.finish("PIT"));
    }
    {
        auto bytes = w.buffer();
        bytes[3] = bytes[4] = bytes[5] = bytes[6] = 0;   // reload count 0
        Reader r(bytes);
        emu::PitChannel other(true);
        other.load(r);
        EXPECT_FALSE(r.finish("PIT"));
    }
    Reader ok(w.buffer());
    emu::PitChannel same(true);
    same.load(ok);
    EXPECT_TRUE(ok.finish("PIT"));
}

TEST(SnapshotClock, RestoreGoesOnFromTheSavedTimeOnAnyHost) {
    emu::testing::FakeClock host_a;
    emu::GuestClock a(2'000'000'000, host_a.fn());
    host_a.advance(3'000'000'000);
    a.set_tsc(12345);
    const auto saved = a.save();
    const uint64_t tsc = a.tsc_now();
    // A host whose steady clock is far behind (rebooted since): the clock still goes on.
    emu::testing::FakeClock host_b;
    host_b.now = 1'000;
    emu::GuestClock b(2'000'000'000, host_b.fn());
    b.restore(saved);
    EXPECT_EQ(b.now_ns(), saved.now_ns);
    EXPECT_EQ(b.tsc_now(), tsc);
    host_b.advance(500);
    EXPECT_EQ(b.now_ns(), saved.now_ns + 500);
    EXPECT_EQ(b.tsc_now(), tsc + 1000);
    // A guest deadline 1 us ahead is 1 us ahead on the host too (not "never": the saturation
    // guarded against a positive offset only).
    EXPECT_EQ(b.host_ns(b.now_ns() + 1'000), host_b.now + 1'000);
    EXPECT_EQ(b.host_ns(UINT64_MAX), UINT64_MAX);
}

class SnapshotMemFile : public ::testing::Test {
protected:
    void SetUp() override { path = ::testing::TempDir() + "popek_snapshot_mem_" + std::to_string(::getpid()); }
    void TearDown() override { std::filesystem::remove(path); }
    std::string path;
};

TEST_F(SnapshotMemFile, RoundTripsSparse) {
    auto mem = memory::GuestMemory::create(16 << 20);
    ASSERT_TRUE(mem);
    ASSERT_TRUE(mem->write_obj<uint64_t>(0x1000, 0x1122334455667788));
    ASSERT_TRUE(mem->write_obj<uint32_t>((16 << 20) - 4, 0xdeadbeef));
    auto written = write_mem_file(*mem, path);
    ASSERT_TRUE(written) << written.error().message;
    EXPECT_EQ(written->bytes_written, 2u * 4096);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), uint64_t{16} << 20);
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20);   // holes, not 16 MiB of zeros
    auto fresh = memory::GuestMemory::create(16 << 20);
    ASSERT_TRUE(fresh);
    ASSERT_TRUE(load_mem_file(*fresh, path));
    EXPECT_EQ(*fresh->read_obj<uint64_t>(0x1000), 0x1122334455667788u);
    EXPECT_EQ(*fresh->read_obj<uint32_t>((16 << 20) - 4), 0xdeadbeefu);
}

TEST_F(SnapshotMemFile, UntouchedRamIsNotReadOnAHostWithoutSwap) {
    std::FILE* swaps = std::fopen("/proc/swaps", "re");
    int lines = 0;
    char line[256];
    while (swaps && std::fgets(line, sizeof line, swaps)) ++lines;
    if (swaps) std::fclose(swaps);
    if (lines != 1) GTEST_SKIP() << "the host has swap (or no /proc/swaps): every page is read";
    auto mem = memory::GuestMemory::create(64 << 20);
    ASSERT_TRUE(mem);
    ASSERT_TRUE(mem->write_obj<uint64_t>(0x200000, 7));
    const uint64_t before = mem->resident_bytes();
    ASSERT_TRUE(write_mem_file(*mem, path));
    // Scanning every page would have mapped (zero) pages all over the 64 MiB.
    EXPECT_LT(mem->resident_bytes(), before + (uint64_t{4} << 20));
    auto fresh = memory::GuestMemory::create(64 << 20);
    ASSERT_TRUE(fresh);
    ASSERT_TRUE(load_mem_file(*fresh, path));
    EXPECT_EQ(*fresh->read_obj<uint64_t>(0x200000), 7u);
}

TEST_F(SnapshotMemFile, WrongSizeIsRefusedBeforeAnythingIsRead) {
    auto mem = memory::GuestMemory::create(16 << 20);
    ASSERT_TRUE(mem);
    ASSERT_TRUE(mem->write_obj<uint8_t>(0, 0x55));
    ASSERT_TRUE(write_mem_file(*mem, path));
    auto bigger = memory::GuestMemory::create(32 << 20);
    ASSERT_TRUE(bigger);
    auto r = load_mem_file(*bigger, path);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("bytes of RAM"), std::string::npos) << r.error().message;
    EXPECT_EQ(*bigger->read_obj<uint8_t>(0), 0);   // nothing read
}

}  // namespace
}  // namespace popek::snapshot
