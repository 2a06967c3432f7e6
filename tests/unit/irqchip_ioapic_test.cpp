// IOAPIC: registers, routing to local APICs, edge/level with remote IRR and EOI, hostile accesses.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

constexpr uint64_t kBase = 0xfec00000;

struct IoApicTest : ::testing::Test {
    FakeClock t;
    InterruptPlatform platform{2, 1'000'000'000, t.fn()};

    void SetUp() override {
        enable_apic(platform.cpu(0));
        enable_apic(platform.cpu(1));
    }
    void write32(uint64_t offset, uint32_t value) {
        std::array<uint8_t, 4> b{static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
                                 static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
        ASSERT_TRUE(platform.mmio_write(kBase + offset, b));
    }
    uint32_t read32(uint64_t offset) {
        std::array<uint8_t, 4> b{};
        EXPECT_TRUE(platform.mmio_read(kBase + offset, b));
        return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
    }
    uint32_t reg(uint8_t index) {
        write32(0, index);
        return read32(0x10);
    }
    void set_reg(uint8_t index, uint32_t value) {
        write32(0, index);
        write32(0x10, value);
    }
    void route(unsigned pin, uint64_t entry) {
        set_reg(static_cast<uint8_t>(0x10 + 2 * pin), static_cast<uint32_t>(entry));
        set_reg(static_cast<uint8_t>(0x11 + 2 * pin), static_cast<uint32_t>(entry >> 32));
    }
    std::optional<uint8_t> take(int cpu) {
        if (!platform.cpu(cpu).interrupt_pending()) return std::nullopt;
        return platform.cpu(cpu).acknowledge_interrupt();
    }
    void eoi(int cpu) { apic_write32(platform.cpu(cpu), 0xb0, 0); }
};

TEST_F(IoApicTest, IdentificationRegisters) {
    EXPECT_EQ(reg(0x01), 0x00170011u) << "24 entries, version 0x11";
    set_reg(0x00, 0xffffffff);
    EXPECT_EQ(reg(0x00), 0x0f000000u);
    EXPECT_EQ(reg(0x02), 0x0f000000u) << "arbitration ID follows the ID";
    set_reg(0x01, 0);
    EXPECT_EQ(reg(0x01), 0x00170011u);
    for (unsigned pin = 0; pin < 24; ++pin) EXPECT_EQ(reg(static_cast<uint8_t>(0x10 + 2 * pin)), 0x10000u);
}

TEST_F(IoApicTest, RedirectionEntryKeepsReadOnlyBits) {
    route(5, 0xffffffff'ffffffffull);
    EXPECT_EQ(platform.ioapic().redirection_entry(5), 0xff000000'0001afffull)
        << "delivery status, remote IRR and reserved bits stay 0";
}

TEST_F(IoApicTest, EdgePinDeliversOnRisingEdgesOnly) {
    route(4, 0x01ull << 56 | 0x34);  // edge, physical dest 1, vector 0x34
    platform.set_irq_line(4, true);
    EXPECT_EQ(take(1), 0x34);
    eoi(1);
    platform.set_irq_line(4, true);
    EXPECT_EQ(take(1), std::nullopt) << "still high: no new edge";
    platform.set_irq_line(4, false);
    platform.set_irq_line(4, true);
    EXPECT_EQ(take(1), 0x34);
    EXPECT_EQ(take(0), std::nullopt);
    eoi(1);
    EXPECT_EQ(apic_read32(platform.cpu(1), 0x180 + 0x10), 0u) << "TMR clear for edge";
}

TEST_F(IoApicTest, MaskedEdgeIsLost) {
    route(4, 1ull << 16 | 0x34);
    platform.set_irq_line(4, true);
    platform.set_irq_line(4, false);
    route(4, 0x34);
    EXPECT_EQ(take(0), std::nullopt);
}

TEST_F(IoApicTest, LevelPinWaitsForEoiAndRedeliversWhileAsserted) {
    route(10, 0x8000 | 0x61);  // level, dest 0
    platform.set_irq_line(10, true);
    EXPECT_NE(platform.ioapic().redirection_entry(10) & (1u << 14), 0u) << "remote IRR";
    EXPECT_EQ(take(0), 0x61);
    EXPECT_NE(apic_read32(platform.cpu(0), 0x180 + 0x30) & 2u, 0u) << "TMR set for level";
    platform.set_irq_line(10, true);
    EXPECT_EQ(take(0), std::nullopt) << "remote IRR holds it back";
    eoi(0);  // the line is still asserted: delivered again
    EXPECT_EQ(take(0), 0x61);
    platform.set_irq_line(10, false);
    eoi(0);
    EXPECT_EQ(platform.ioapic().redirection_entry(10) & (1u << 14), 0u);
    EXPECT_EQ(take(0), std::nullopt);
}

TEST_F(IoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
    route(11, 1ull << 16 | 0x8000 | 0x62);
    platform.set_irq_line(11, true);
    EXPECT_EQ(take(0), std::nullopt);
    route(11, 0x8000 | 0x62);
    EXPECT_EQ(take(0), 0x62);
}

TEST_F(IoApicTest, EoiOfAnotherVectorLeavesRemoteIrr) {
    route(10, 0x8000 | 0x61);
    platform.set_irq_line(10, true);
    ASSERT_EQ(take(0), 0x61);
    platform.ioapic().eoi(0x62);
    EXPECT_NE(platform.ioapic().redirection_entry(10) & (1u << 14), 0u);
}

TEST_F(IoApicTest, LogicalAndBroadcastDestinations) {
    apic_write32(platform.cpu(0), 0xd0, 0x01000000);
    apic_write32(platform.cpu(1), 0xd0, 0x02000000);
    route(3, 0x02ull << 56 | 0x800 | 0x44);  // logical 0x02: vCPU 1
    platform.set_irq_line(3, true);
    EXPECT_EQ(take(0), std::nullopt);
    EXPECT_EQ(take(1), 0x44);
    eoi(1);
    route(5, 0xffull << 56 | 0x45);
    platform.set_irq_line(5, true);
    EXPECT_EQ(take(0), 0x45);
    EXPECT_EQ(take(1), 0x45);
    eoi(0);
    eoi(1);
    route(6, 0x03ull << 56 | 0x900 | 0x46);  // lowest priority among 0 and 1: exactly one
    platform.set_irq_line(6, true);
    int count = (take(0) == 0x46) + (take(1) == 0x46);
    EXPECT_EQ(count, 1);
}

TEST_F(IoApicTest, NmiDeliveryMode) {
    route(7, 0x400);
    platform.set_irq_line(7, true);
    EXPECT_TRUE(platform.cpu(0).take_nmi());
}

TEST_F(IoApicTest, HostileAccesses) {
    // Out-of-range pins and register indexes.
    platform.set_irq_line(24, true);
    platform.set_irq_line(0xffffffff, true);
    EXPECT_EQ(reg(0x40), 0u);
    EXPECT_EQ(reg(0xff), 0u);
    set_reg(0xff, 0x1234);
    EXPECT_EQ(reg(0x03), 0u);
    // Other offsets of the window read 0 and ignore writes; IOREGSEL is 8 bits.
    write32(0, 0xffffff11);
    EXPECT_EQ(read32(0), 0x11u);
    write32(0x20, 0xffffffff);
    EXPECT_EQ(read32(0x20), 0u);
    EXPECT_EQ(read32(0xffc), 0u);
    // Byte writes to IOWIN update only those bytes of the selected register.
    route(2, 0x30);
    write32(0, 0x14);
    std::array<uint8_t, 1> b{0x77};
    ASSERT_TRUE(platform.mmio_write(kBase + 0x10, b));
    EXPECT_EQ(platform.ioapic().redirection_entry(2) & 0xffff, 0x0077u);
    // An 8-byte access spanning IOREGSEL's tail; beyond the window; wrong base.
    std::array<uint8_t, 8> wide{};
    wide.fill(0xaa);
    ASSERT_TRUE(platform.mmio_read(kBase + 0xc, wide));
    EXPECT_EQ(wide[0], 0);
    EXPECT_EQ(wide[4], 0x77);
    ASSERT_TRUE(platform.mmio_read(kBase + 0xffe, wide));
    EXPECT_FALSE(platform.mmio_read(kBase + 0x1000, wide));
    EXPECT_FALSE(platform.mmio_write(kBase - 1, wide));
    EXPECT_FALSE(platform.mmio_read(0, wide));
}

}  // namespace
}  // namespace popek::emu

namespace popek::emu {
namespace {

/// Records what reaches it and answers with `answer` (nullopt: blocked).
struct RecordingRemapper final : hv::InterruptRemapper {
    std::vector<std::pair<uint32_t, hv::MsiMessage>> seen;
    std::optional<hv::MsiMessage> answer;
    std::optional<hv::MsiMessage> remap(uint32_t requester, const hv::MsiMessage& m) override {
        seen.emplace_back(requester, m);
        return answer;
    }
};

TEST_F(IoApicTest, WithARemapperEntriesKeepTheRemappableFormatAndGoOutAsMsis) {
    RecordingRemapper remapper;
    platform.set_interrupt_remapper(&remapper);
    // VT-d 3.x §5.1.5.1: format bit 48, index[14:0] in 63:49 (here 0x1234), index[15] in bit 11.
    const uint64_t entry = (uint64_t{0x1234} << 49) | (uint64_t{1} << 48) | (1u << 11) | 0xed;
    route(7, entry);
    EXPECT_EQ(platform.ioapic().redirection_entry(7), entry) << "bits 55:48 are kept with a remapper";
    remapper.answer = hv::MsiMessage{0xfee01000, 0x41};   // vector 0x41 to APIC 1
    platform.set_irq_line(7, true);
    ASSERT_EQ(remapper.seen.size(), 1u);
    EXPECT_EQ(remapper.seen[0].first, hv::kNoRequesterId);
    EXPECT_EQ(remapper.seen[0].second.address, 0xfee00000ull | (0x1234u << 5) | (1u << 4) | (1u << 2));
    EXPECT_EQ(remapper.seen[0].second.data & 0xff, 0xedu);
    EXPECT_EQ(take(1), 0x41) << "the remapper's answer is what is delivered";
    EXPECT_EQ(take(0), std::nullopt);
    eoi(1);
    platform.set_irq_line(7, false);
    remapper.answer.reset();
    platform.set_irq_line(7, true);
    EXPECT_EQ(remapper.seen.size(), 2u);
    EXPECT_EQ(take(0), std::nullopt) << "blocked by the remapper: nothing delivered";
    EXPECT_EQ(take(1), std::nullopt);
}

TEST_F(IoApicTest, DeviceMsisGoThroughTheRemapperUnlessTheyAreItsOwnEvents) {
    RecordingRemapper remapper;
    platform.set_interrupt_remapper(&remapper);
    remapper.answer = hv::MsiMessage{0xfee00000, 0x52};
    EXPECT_TRUE(platform.deliver_device_msi(0x10, hv::MsiMessage{0xfee00010, 0}, true));
    ASSERT_EQ(remapper.seen.size(), 1u);
    EXPECT_EQ(remapper.seen[0].first, 0x10u);
    EXPECT_EQ(take(0), 0x52);
    EXPECT_TRUE(platform.deliver_device_msi(0x10, hv::MsiMessage{0xfee01000, 0x61}, false));
    EXPECT_EQ(remapper.seen.size(), 1u) << "a remapper's own event is not remapped";
    EXPECT_EQ(take(1), 0x61);
    platform.set_interrupt_remapper(nullptr);
    EXPECT_TRUE(platform.deliver_device_msi(0x10, hv::MsiMessage{0xfee00000, 0x62}, true));
    EXPECT_EQ(take(0), 0x62);
    EXPECT_FALSE(platform.deliver_device_msi(0x10, hv::MsiMessage{0xfed00000, 0x63}, true)) << "not an MSI address";
}

}  // namespace
}  // namespace popek::emu
