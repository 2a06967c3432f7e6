// The QEMU devices kvm-unit-tests relies on: fw_cfg (legacy I/O) and pc-testdev's ports and iomem.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "devices/legacy/fw_cfg.h"
#include "devices/legacy/pc_testdev.h"

namespace {

using namespace popek::devices::legacy;

uint64_t read_n(popek::bus::Device& d, uint64_t off, size_t n) {
    uint8_t b[8] = {};
    d.read(off, std::span<uint8_t>(b, n));
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{b[i]} << (8 * i);
    return v;
}
void write_n(popek::bus::Device& d, uint64_t off, uint64_t v, size_t n) {
    uint8_t b[8];
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    d.write(off, std::span<const uint8_t>(b, n));
}

/// Selects `key` and reads `n` bytes through the data port, little-endian.
uint64_t fw_item(FwCfg& fw, uint16_t key, size_t n) {
    write_n(fw, 0, key, 2);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= read_n(fw, 1, 1) << (8 * i);
    return v;
}

TEST(FwCfg, AnswersTheItemsKvmUnitTestsReads) {
    FwCfg fw(256ull << 20, 3);
    EXPECT_EQ(fw_item(fw, FwCfg::kSignature, 4), 0x554d4551u) << "\"QEMU\"";
    EXPECT_EQ(fw_item(fw, FwCfg::kId, 4), 1u) << "traditional interface, no DMA";
    EXPECT_EQ(fw_item(fw, FwCfg::kRamSize, 8), 256ull << 20);
    EXPECT_EQ(fw_item(fw, FwCfg::kNbCpus, 2), 3u);
    EXPECT_EQ(fw_item(fw, FwCfg::kMaxCpus, 2), 3u);
    EXPECT_EQ(fw_item(fw, FwCfg::kFileDir, 4), 0u) << "no named files";
}

TEST(FwCfg, SelectingRewindsAndReadsPastTheEndOrOfMissingItemsAreZero) {
    FwCfg fw(64ull << 20, 1);
    EXPECT_EQ(fw_item(fw, FwCfg::kNbCpus, 4), 1u) << "bytes 2 and 3 are past the 2-byte item";
    EXPECT_EQ(fw_item(fw, FwCfg::kSignature, 2), 0x4551u);
    EXPECT_EQ(fw_item(fw, FwCfg::kSignature, 2), 0x4551u) << "a new selection starts over";
    EXPECT_EQ(fw_item(fw, 0x0011, 8), 0u) << "kvm-unit-tests' MAX_RAM key is not a QEMU item";
    EXPECT_EQ(fw_item(fw, 0x8000, 4), 0u);
}

TEST(FwCfg, OnlyAWordSelectorWriteAndByteDataReadsCount) {
    FwCfg fw(64ull << 20, 2);
    write_n(fw, 0, FwCfg::kNbCpus, 2);
    write_n(fw, 0, FwCfg::kSignature, 1);   // byte write to the selector: ignored
    write_n(fw, 1, 0x55, 1);                // data writes: ignored
    EXPECT_EQ(read_n(fw, 0, 2), 0xffffu) << "the selector is write-only";
    EXPECT_EQ(read_n(fw, 1, 2), 0xffffu) << "wide data reads are not valid accesses";
    EXPECT_EQ(read_n(fw, 1, 1), 2u) << "still NB_CPUS, still at its first byte";
}

TEST(PcTestdev, ScratchRegisterKeepsEachByteWhateverTheWidth) {
    PcTestdevBytes reg("scratch", PcTestdevBytes::kScratchSize);
    EXPECT_EQ(read_n(reg, 0, 4), 0u);
    write_n(reg, 0, 0x12345678, 4);
    write_n(reg, 1, 0xab, 1);
    write_n(reg, 2, 0xcdef, 2);
    EXPECT_EQ(read_n(reg, 0, 4), 0xcdefab78u);
    EXPECT_EQ(read_n(reg, 3, 1), 0xcdu);
    EXPECT_EQ(read_n(reg, 2, 4), 0xffffcdefu) << "bytes past the register read 0xff";
}

TEST(PcTestdev, IrqPortsDriveTheirLine) {
    std::vector<std::pair<uint32_t, bool>> lines;
    PcTestdevIrqLines irq([&](uint32_t line, bool level) { lines.emplace_back(line, level); });
    write_n(irq, 5, 1, 1);
    write_n(irq, 5, 0, 1);
    write_n(irq, 23, 0x80, 1);
    write_n(irq, 22, 0x0100, 2);   // lines 22 (0) and 23 (1)
    write_n(irq, 23, 0x0101, 2);   // line 24 does not exist
    std::vector<std::pair<uint32_t, bool>> want{{5, true}, {5, false}, {23, true}, {22, false}, {23, true},
                                                {23, true}};
    EXPECT_EQ(lines, want);
}

TEST(PcTestdev, IomemIs64KiBOfRam) {
    PcTestdevBytes mem("iomem", PcTestdevBytes::kIomemSize);
    EXPECT_EQ(read_n(mem, 0, 8), 0u);
    write_n(mem, PcTestdevBytes::kIomemSize - 8, 0x1122334455667788, 8);
    EXPECT_EQ(read_n(mem, PcTestdevBytes::kIomemSize - 6, 4), 0x33445566u);
    write_n(mem, PcTestdevBytes::kIomemSize - 2, 0xaaaabbbb, 4);  // half of it falls off the end
    EXPECT_EQ(read_n(mem, PcTestdevBytes::kIomemSize - 2, 2), 0xbbbbu);
}

}  // namespace
