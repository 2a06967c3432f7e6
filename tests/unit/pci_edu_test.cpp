// QEMU's edu device (src/devices/pci/edu.h): registers, interrupts by INTx and MSI, and DMA to
// and from guest RAM, with the hostile cases (bad widths, buffer bounds, RAM bounds, no bus master).
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "bus/device.h"
#include "devices/pci/edu.h"

namespace popek::devices::pci {
namespace {

struct EduTest : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(16 << 20).value();
    std::vector<std::pair<uint64_t, uint64_t>> wrote;
    DirectDma direct{mem, [this](uint64_t gpa, uint64_t len) { wrote.emplace_back(gpa, len); }};
    std::vector<bool> intx;
    std::vector<std::pair<uint16_t, hv::MsiMessage>> msis;
    Edu edu{direct, [this](bool level) { intx.push_back(level); },
            [this](uint16_t rid, const hv::MsiMessage& m) { msis.emplace_back(rid, m); }};

    void SetUp() override { edu.set_requester_id(0x10); }
    uint64_t rd(uint64_t off, size_t size = 4) {
        std::array<uint8_t, 8> b{};
        edu.bar_read(0, off, std::span(b).first(size));
        return bus::span_to_u64(std::span(b).first(size));
    }
    void wr(uint64_t off, uint64_t v, size_t size = 4) {
        std::array<uint8_t, 8> b{};
        bus::u64_to_span(v, b);
        edu.bar_write(0, off, std::span(b).first(size));
    }
    void cfg16(uint16_t off, uint16_t v) {
        std::array<uint8_t, 2> b{static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
        edu.config_write(off, b);
    }
    void cfg32(uint16_t off, uint32_t v) {
        std::array<uint8_t, 4> b{};
        bus::u64_to_span(v, b);
        edu.config_write(off, b);
    }
    uint16_t cfg_read16(uint16_t off) {
        std::array<uint8_t, 2> b{};
        edu.config_read(off, b);
        return static_cast<uint16_t>(b[0] | b[1] << 8);
    }
    void start_dma(uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd) {
        wr(Edu::kRegDmaSrc, src, 8);
        wr(Edu::kRegDmaDst, dst, 8);
        wr(Edu::kRegDmaCount, count, 8);
        wr(Edu::kRegDmaCmd, cmd, 4);
    }
};

TEST_F(EduTest, IdentityAndConfigurationSpace) {
    EXPECT_EQ(rd(Edu::kRegId), 0x010000edu);
    EXPECT_EQ(cfg_read16(0), 0x1234u);
    EXPECT_EQ(cfg_read16(2), 0x11e8u);
    EXPECT_EQ(edu.bar_size(0), 1u << 20);
    EXPECT_EQ(cfg_read16(0x3c) >> 8, 1u) << "INTA#";
}

TEST_F(EduTest, LivenessReadsTheInverseAndBadWidthsReadAllOnes) {
    wr(Edu::kRegLiveness, 0x12345678);
    EXPECT_EQ(rd(Edu::kRegLiveness), 0xedcba987u);
    EXPECT_EQ(rd(Edu::kRegLiveness, 2), 0xffffu) << "below 0x80 only 4-byte accesses";
    EXPECT_EQ(rd(Edu::kRegId, 8), ~uint64_t{0});
    EXPECT_EQ(rd(0x02), 0xffffffffu) << "unaligned";
    wr(Edu::kRegLiveness, 0, 2);
    EXPECT_EQ(rd(Edu::kRegLiveness), 0xedcba987u) << "a 2-byte write is ignored";
    EXPECT_EQ(rd(0x1000), 0xffffffffu) << "no register there";
    EXPECT_EQ(rd(Edu::kRegDmaCount, 8), 0u) << "from 0x80, 8-byte accesses too";
}

TEST_F(EduTest, FactorialWrapsAt32BitsAndAHugeArgumentIsCheap) {
    wr(Edu::kRegFactorial, 5);
    EXPECT_EQ(rd(Edu::kRegFactorial), 120u);
    EXPECT_EQ(rd(Edu::kRegStatus) & Edu::kStatusComputing, 0u);
    wr(Edu::kRegFactorial, 13);
    EXPECT_EQ(rd(Edu::kRegFactorial), 1932053504u) << "13! mod 2^32";
    wr(Edu::kRegFactorial, 0xffffffff);   // would be 4 billion multiplications
    EXPECT_EQ(rd(Edu::kRegFactorial), 0u);
    EXPECT_TRUE(intx.empty());
    wr(Edu::kRegStatus, Edu::kStatusIrqFactorial | Edu::kStatusComputing);
    EXPECT_EQ(rd(Edu::kRegStatus), Edu::kStatusIrqFactorial) << "computing is read-only";
    wr(Edu::kRegFactorial, 3);
    EXPECT_EQ(intx, std::vector<bool>{true}) << "interrupt after the factorial";
    EXPECT_EQ(rd(Edu::kRegIrqStatus), Edu::kFactorialIrq);
}

TEST_F(EduTest, IntxFollowsTheStatusAndTheDisableBit) {
    wr(Edu::kRegIrqRaise, 0x3);
    EXPECT_EQ(intx, std::vector<bool>{true});
    EXPECT_EQ(rd(Edu::kRegIrqStatus), 3u);
    EXPECT_TRUE(cfg_read16(cfg::kStatus) & cfg::kStatusInterrupt);
    wr(Edu::kRegIrqAck, 0x1);
    EXPECT_EQ(intx.size(), 1u) << "still pending: bit 1";
    cfg16(cfg::kCommand, cfg::kCmdMemory | cfg::kCmdIntxDisable);
    EXPECT_EQ(intx, (std::vector<bool>{true, false})) << "INTx disable takes the line down";
    EXPECT_TRUE(cfg_read16(cfg::kStatus) & cfg::kStatusInterrupt) << "the status bit still says pending";
    cfg16(cfg::kCommand, cfg::kCmdMemory);
    EXPECT_EQ(intx, (std::vector<bool>{true, false, true}));
    wr(Edu::kRegIrqAck, 0x2);
    EXPECT_EQ(intx, (std::vector<bool>{true, false, true, false}));
    EXPECT_FALSE(cfg_read16(cfg::kStatus) & cfg::kStatusInterrupt);
    wr(Edu::kRegIrqRaise, 0);
    EXPECT_EQ(intx.size(), 4u) << "raising nothing raises nothing";
}

TEST_F(EduTest, MsiNeedsEnableAndBusMasterAndReplacesIntx) {
    cfg32(0x44, 0xfee00000 | (1u << 4) | (2u << 5));   // a remappable-format address
    cfg32(0x48, 0);
    cfg16(0x4c, 0x0000);
    cfg16(0x42, 0x0081);   // MSI enable
    wr(Edu::kRegIrqRaise, 1);
    EXPECT_TRUE(msis.empty()) << "no bus mastering, no MSI write";
    EXPECT_TRUE(intx.empty()) << "and no INTx while MSI is enabled";
    wr(Edu::kRegIrqAck, 1);
    cfg16(cfg::kCommand, cfg::kCmdMemory | cfg::kCmdBusMaster);
    wr(Edu::kRegIrqRaise, 1);
    ASSERT_EQ(msis.size(), 1u);
    EXPECT_EQ(msis[0].first, 0x10u);
    EXPECT_EQ(msis[0].second.address, 0xfee00000u | (1u << 4) | (2u << 5));
    EXPECT_EQ(msis[0].second.data, 0u);
}

TEST_F(EduTest, DmaBothWaysThroughRam) {
    cfg16(cfg::kCommand, cfg::kCmdMemory | cfg::kCmdBusMaster);
    const uint32_t word = 0x12345678;
    ASSERT_TRUE(mem.write_obj<uint32_t>(0x200000, word));
    start_dma(0x200000, Edu::kDmaBufferStart, 4, Edu::kDmaRun);
    EXPECT_EQ(rd(Edu::kRegDmaCmd) & Edu::kDmaRun, 0u) << "done";
    EXPECT_EQ(edu.buffer()[0], 0x78);
    start_dma(Edu::kDmaBufferStart, 0x200004, 4, Edu::kDmaRun | Edu::kDmaToRam | Edu::kDmaIrq);
    EXPECT_EQ(mem.read_obj<uint32_t>(0x200004).value(), word);
    ASSERT_FALSE(wrote.empty());
    EXPECT_EQ(wrote.back(), (std::pair<uint64_t, uint64_t>{0x200004, 4})) << "the RAM write is reported";
    EXPECT_EQ(rd(Edu::kRegIrqStatus), Edu::kDmaIrqValue);
    EXPECT_EQ(intx, std::vector<bool>{true});
}

TEST_F(EduTest, HostileDmaMovesNothing) {
    ASSERT_TRUE(mem.write_obj<uint32_t>(0x200000, 0xaabbccdd));
    start_dma(0x200000, Edu::kDmaBufferStart, 4, Edu::kDmaRun);
    EXPECT_EQ(edu.buffer()[0], 0) << "no bus mastering: no DMA";
    cfg16(cfg::kCommand, cfg::kCmdMemory | cfg::kCmdBusMaster);
    start_dma(0x200000, Edu::kDmaBufferStart + 4094, 4, Edu::kDmaRun);
    EXPECT_EQ(edu.buffer()[4094], 0) << "the buffer side runs past the 4 KiB buffer";
    start_dma(0x200000, Edu::kDmaBufferStart - 4, 8, Edu::kDmaRun);
    EXPECT_EQ(edu.buffer()[0], 0) << "the buffer side starts before the buffer";
    start_dma(0x200000, Edu::kDmaBufferStart, ~uint64_t{0}, Edu::kDmaRun);
    EXPECT_EQ(edu.buffer()[0], 0) << "a huge count";
    start_dma(0x200000, Edu::kDmaBufferStart, 4, Edu::kDmaRun);
    ASSERT_EQ(edu.buffer()[0], 0xdd);
    start_dma(Edu::kDmaBufferStart, 0xfffff00, 512, Edu::kDmaRun | Edu::kDmaToRam);   // past the 16 MiB of RAM
    start_dma(Edu::kDmaBufferStart, (uint64_t{1} << 40) | 0x300000, 4, Edu::kDmaRun | Edu::kDmaToRam);
    EXPECT_EQ(mem.read_obj<uint32_t>(0x300000).value(), 0xaabbccddu) << "the RAM side is masked to 28 bits";
    EXPECT_EQ(rd(Edu::kRegDmaCmd) & Edu::kDmaRun, 0u);
    wr(Edu::kRegDmaCmd, 0);
    EXPECT_EQ(rd(Edu::kRegDmaCmd), Edu::kDmaToRam) << "a command without start is ignored";
}

}  // namespace
}  // namespace popek::devices::pci
