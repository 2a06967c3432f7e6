// AML for virtio-mmio devices, checked byte by byte against ACPI 6.5 section 20 / 6.4 encodings.
#include <gtest/gtest.h>

#include "acpi/aml_virtio.h"

namespace {

using popek::acpi::aml_pkg_length;
using popek::acpi::aml_virtio_device;
using popek::devices::virtio::MmioDeviceInfo;

TEST(AmlVirtio, PkgLengthEncodings) {
    // 20.2.4: one byte up to 63 (length includes itself); then the byte count in bits 7:6,
    // the low nibble in bits 3:0 and the rest in the following bytes.
    EXPECT_EQ(*aml_pkg_length(0), (std::vector<uint8_t>{0x01}));
    EXPECT_EQ(*aml_pkg_length(62), (std::vector<uint8_t>{0x3f}));
    EXPECT_EQ(*aml_pkg_length(63), (std::vector<uint8_t>{0x41, 0x04}));        // 65 = 0x41
    EXPECT_EQ(*aml_pkg_length(0x1000), (std::vector<uint8_t>{0x83, 0x00, 0x01}));  // 0x1003: 3 bytes
    EXPECT_EQ(*aml_pkg_length(0xffd), (std::vector<uint8_t>{0x4f, 0xff}));     // 0xfff: still 2 bytes
    EXPECT_FALSE(aml_pkg_length(uint64_t{1} << 28));
}

TEST(AmlVirtio, DeviceZeroBytes) {
    auto aml = aml_virtio_device(MmioDeviceInfo{0, 0xd0000000, 0x1000, 5, 2});
    ASSERT_TRUE(aml);
    const std::vector<uint8_t> expected = {
        0x5b, 0x82, 0x3a,                    // DeviceOp, PkgLength 58 (57 bytes follow)
        'V', 'R', 'T', '0',
        0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00,
        0x08, '_', 'U', 'I', 'D', 0x00,      // ZeroOp
        0x08, '_', 'C', 'R', 'S',
        0x11, 0x1a, 0x0a, 0x17,              // BufferOp, PkgLength 26, BufferSize ByteConst 23
        0x86, 0x09, 0x00, 0x01,              // Memory32Fixed, length 9, read-write
        0x00, 0x00, 0x00, 0xd0,              //   base
        0x00, 0x10, 0x00, 0x00,              //   length
        0x89, 0x06, 0x00, 0x01, 0x01,        // Extended Interrupt, length 6, consumer/level/high/excl, 1 irq
        0x05, 0x00, 0x00, 0x00,              //   GSI 5
        0x79, 0x00,                          // End tag
    };
    EXPECT_EQ(*aml, expected);
}

TEST(AmlVirtio, UidEncodingsAndNames) {
    auto one = *aml_virtio_device(MmioDeviceInfo{1, 0xd0001000, 0x1000, 6, 1});
    EXPECT_EQ(std::vector<uint8_t>(one.begin() + 3, one.begin() + 7), (std::vector<uint8_t>{'V', 'R', 'T', '1'}));
    EXPECT_EQ(one[27], 0x01);                          // OneOp
    auto eleven = *aml_virtio_device(MmioDeviceInfo{11, 0xd000b000, 0x1000, 16, 1});
    EXPECT_EQ(eleven[2], 0x3b);                        // one byte longer: ByteConst _UID
    EXPECT_EQ(eleven[6], 'B');
    EXPECT_EQ(eleven[27], 0x0a);
    EXPECT_EQ(eleven[28], 11);
    EXPECT_EQ(eleven[eleven.size() - 6], 16);          // the GSI
}

TEST(AmlVirtio, RejectsWhatAmlCannotSay) {
    EXPECT_FALSE(aml_virtio_device(MmioDeviceInfo{36, 0xd0000000, 0x1000, 5, 1}));
    EXPECT_FALSE(aml_virtio_device(MmioDeviceInfo{0, 0x1'0000'0000, 0x1000, 5, 1}));
    EXPECT_FALSE(aml_virtio_device(MmioDeviceInfo{0, 0xffff'f000, 0x2000, 5, 1}));
}

TEST(AmlVirtio, SlotsAndConcatenation) {
    auto s0 = *popek::devices::virtio::mmio_device_slot(0);
    auto s4 = *popek::devices::virtio::mmio_device_slot(4);
    EXPECT_EQ(s0.base, 0xd0000000u);
    EXPECT_EQ(s0.gsi, 5u);
    EXPECT_EQ(s4.base, 0xd0004000u);
    EXPECT_EQ(s4.gsi, 11u);
    EXPECT_FALSE(popek::devices::virtio::mmio_device_slot(8));
    std::vector<MmioDeviceInfo> both{s0, s4};
    auto all = *popek::acpi::aml_virtio_devices(both);
    auto first = *aml_virtio_device(s0), second = *aml_virtio_device(s4);
    ASSERT_EQ(all.size(), first.size() + second.size());
    EXPECT_TRUE(std::equal(first.begin(), first.end(), all.begin()));
    EXPECT_TRUE(std::equal(second.begin(), second.end(), all.begin() + static_cast<ptrdiff_t>(first.size())));
}

}  // namespace
