// PCI configuration mechanism #1, configuration spaces, BAR sizing and placement, the MMIO
// window, and what a hostile guest can do with them (src/devices/pci/).
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "devices/pci/pci_bus.h"

namespace popek::devices::pci {
namespace {

/// A function with one 4 KiB memory BAR whose registers remember the last write.
struct ScratchDevice final : PciDevice {
    ScratchDevice() : PciDevice(PciConfigSpace(0x1234, 0x5678, 0x020000, 3)) {
        m_config.add_memory_bar(1, 0x1000);
        m_config.set_interrupt(1, 0);
        MsiCapability::add(m_config);
    }
    std::string_view name() const override { return "scratch"; }
    void bar_read(int bar, uint64_t offset, std::span<uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(bar * 16 + offset + i);
    }
    void bar_write(int bar, uint64_t offset, std::span<const uint8_t> data) override {
        writes.push_back({bar, offset, data.size()});
    }
    struct Write {
        int bar;
        uint64_t offset;
        size_t size;
    };
    std::vector<Write> writes;
};

/// A reset control stand-in: remembers what reached it.
struct FakeReset final : bus::Device {
    std::string_view name() const override { return "reset"; }
    void read(uint64_t, std::span<uint8_t> d) override { d[0] = 0x42; }
    void write(uint64_t, std::span<const uint8_t> d) override { written.push_back(d[0]); }
    std::vector<uint8_t> written;
};

struct PciBusTest : ::testing::Test {
    PciBus bus;
    std::shared_ptr<ScratchDevice> dev = std::make_shared<ScratchDevice>();
    std::shared_ptr<FakeReset> reset = std::make_shared<FakeReset>();
    PciConfigPorts ports{bus, reset};

    void SetUp() override {
        ASSERT_TRUE(bus.plug(0, std::make_shared<HostBridge>(), 0));
        ASSERT_TRUE(bus.plug(3, dev, 17));
        ASSERT_TRUE(bus.assign_resources(0xe0000000, 0x10000000));
    }
    void outl(uint16_t port, uint32_t v) {
        std::array<uint8_t, 4> b{};
        bus::u64_to_span(v, b);
        ports.write(port - PciConfigPorts::kPort, b);
    }
    uint32_t in(uint16_t port, size_t size) {
        std::array<uint8_t, 4> b{};
        ports.read(port - PciConfigPorts::kPort, std::span(b).first(size));
        return static_cast<uint32_t>(bus::span_to_u64(std::span(b).first(size)));
    }
    void out(uint16_t port, size_t size, uint32_t v) {
        std::array<uint8_t, 4> b{};
        bus::u64_to_span(v, b);
        ports.write(port - PciConfigPorts::kPort, std::span(b).first(size));
    }
    /// kvm-unit-tests' lib/x86/asm/pci.h: the register's low bits go into CONFIG_ADDRESS.
    uint32_t cfg_read(unsigned devfn, unsigned reg, size_t size) {
        outl(0xcf8, 0x80000000u | devfn << 8 | reg);
        return in(0xcfc, size);
    }
    void cfg_write(unsigned devfn, unsigned reg, size_t size, uint32_t v) {
        outl(0xcf8, 0x80000000u | devfn << 8 | reg);
        out(0xcfc, size, v);
    }
};

TEST_F(PciBusTest, HostBridgeAndDeviceAreFoundAndAbsentFunctionsReadAllOnes) {
    EXPECT_EQ(cfg_read(0, 0, 4), 0x29c08086u) << "q35 host bridge";
    EXPECT_EQ(cfg_read(0, 0x0a, 2), 0x0600u) << "class: host bridge";
    EXPECT_EQ(cfg_read(3 << 3, 0, 4), 0x56781234u);
    EXPECT_EQ(cfg_read(3 << 3, 0x0e, 1), 0u) << "header type 0 (read at an unaligned register, as kvm-unit-tests does)";
    EXPECT_EQ(cfg_read(1 << 3, 0, 4), 0xffffffffu) << "empty slot";
    EXPECT_EQ(cfg_read(3 << 3 | 1, 0, 4), 0xffffffffu) << "function 1 of a single-function device";
    outl(0xcf8, 0x80010000u);   // bus 1
    EXPECT_EQ(in(0xcfc, 4), 0xffffffffu);
    outl(0xcf8, 0x00000000u);   // enable bit clear
    EXPECT_EQ(in(0xcfc, 4), 0xffffffffu);
    out(0xcfc, 4, 0);
    EXPECT_EQ(cfg_read(0, 0, 4), 0x29c08086u) << "a write with the enable bit clear went nowhere";
}

TEST_F(PciBusTest, ConfigAddressKeepsItsLowBitsAndClearsReservedOnes) {
    outl(0xcf8, 0xffffffffu);
    EXPECT_EQ(in(0xcf8, 4), 0x80ffffffu) << "bits 30:24 read 0";
    // Port offsets are ORed into the register: 0xcfd with register 0x00 is byte 1.
    outl(0xcf8, 0x80000000u);
    EXPECT_EQ(in(0xcfd, 1), 0x80u) << "vendor 0x8086, high byte";
    EXPECT_EQ(in(0xcfe, 2), 0x29c0u);
}

TEST_F(PciBusTest, ResetControlSharesThePortsAndOtherNarrowAccessesAreUnclaimed) {
    EXPECT_EQ(in(0xcf9, 1), 0x42u);
    out(0xcf9, 1, 0x06);
    EXPECT_EQ(reset->written, std::vector<uint8_t>{0x06});
    const uint32_t before = in(0xcf8, 4);
    out(0xcf8, 1, 0x12);
    out(0xcfa, 2, 0x3456);
    EXPECT_EQ(in(0xcf8, 4), before) << "CONFIG_ADDRESS takes DWORD writes only";
    EXPECT_EQ(in(0xcf8, 1), 0xffu);
    EXPECT_EQ(in(0xcf8, 2), 0xffffu);
    EXPECT_EQ(reset->written.size(), 1u);
}

TEST_F(PciBusTest, BarSizingByWritingAllOnesAndFirmwarePlacement) {
    const unsigned d = 3 << 3;
    EXPECT_EQ(cfg_read(d, 0x10, 4), 0u) << "BAR 0 absent";
    const uint32_t bar1 = cfg_read(d, 0x14, 4);
    EXPECT_EQ(bar1, 0xe0000000u) << "placed at the start of the window";
    EXPECT_TRUE(cfg_read(d, 0x04, 2) & cfg::kCmdMemory) << "firmware enabled memory decoding";
    EXPECT_EQ(cfg_read(d, 0x3c, 1), 17u) << "interrupt line = its GSI";
    EXPECT_EQ(cfg_read(d, 0x3d, 1), 1u) << "INTA#";
    cfg_write(d, 0x14, 4, 0xffffffffu);
    EXPECT_EQ(cfg_read(d, 0x14, 4), 0xfffff000u) << "size 4 KiB, type bits 0";
    cfg_write(d, 0x10, 4, 0xffffffffu);
    EXPECT_EQ(cfg_read(d, 0x10, 4), 0u) << "an absent BAR stays 0";
    cfg_write(d, 0x14, 4, bar1 | 0x123);
    EXPECT_EQ(cfg_read(d, 0x14, 4), bar1) << "bits below the size are read-only 0";
}

TEST_F(PciBusTest, ReadOnlyAndWriteOneToClearRegistersResistWrites) {
    const unsigned d = 3 << 3;
    cfg_write(d, 0x00, 4, 0);
    EXPECT_EQ(cfg_read(d, 0x00, 4), 0x56781234u);
    cfg_write(d, 0x08, 4, 0);
    EXPECT_EQ(cfg_read(d, 0x08, 4), 0x02000003u);
    cfg_write(d, 0x04, 2, 0xffff);
    EXPECT_EQ(cfg_read(d, 0x04, 2), 0x0547u) << "only the command bits that exist";
    const uint32_t status = cfg_read(d, 0x06, 2);
    EXPECT_TRUE(status & cfg::kStatusCapList);
    cfg_write(d, 0x06, 2, 0xffff);
    EXPECT_EQ(cfg_read(d, 0x06, 2), status) << "capability list bit is read-only";
    cfg_write(d, 0x3d, 1, 4);
    EXPECT_EQ(cfg_read(d, 0x3d, 1), 1u) << "interrupt pin is read-only";
}

TEST_F(PciBusTest, CapabilityListAndMsiRegisters) {
    const unsigned d = 3 << 3;
    const unsigned cap = cfg_read(d, 0x34, 1);
    ASSERT_EQ(cap, 0x40u);
    EXPECT_EQ(cfg_read(d, cap, 1), 0x05u) << "MSI";
    EXPECT_EQ(cfg_read(d, cap + 1, 1), 0u) << "end of the list";
    EXPECT_EQ(cfg_read(d, cap + 2, 2), 0x0080u) << "64-bit, 1 message, disabled";
    cfg_write(d, cap + 4, 4, 0xfee0'1003u);
    cfg_write(d, cap + 8, 4, 0x1u);
    cfg_write(d, cap + 12, 4, 0xffff'4321u);
    EXPECT_EQ(cfg_read(d, cap + 4, 4), 0xfee0'1000u) << "DWORD-aligned";
    EXPECT_EQ(cfg_read(d, cap + 12, 4), 0x4321u) << "16-bit data";
    cfg_write(d, cap + 2, 2, 0xffff);
    EXPECT_EQ(cfg_read(d, cap + 2, 2), 0x00f1u) << "enable and MME writable only";
}

TEST_F(PciBusTest, HostileOffsetsSizesAndUnalignedAccessesStayInside) {
    const unsigned d = 3 << 3;
    // The last byte, and an access running past it: bytes past 255 read all ones.
    outl(0xcf8, 0x80000000u | d << 8 | 0xfc);
    EXPECT_EQ(in(0xcff, 1), 0u);
    outl(0xcf8, 0x80000000u | d << 8 | 0xff);
    EXPECT_EQ(in(0xcfc, 4), 0xffffff00u);
    out(0xcfc, 4, 0xffffffff);   // nothing past 255 to write
    // PciBus directly: offsets far out of range.
    std::array<uint8_t, 8> big{};
    bus.config_read(0, 3, 0, 300, big);
    for (uint8_t b : big) EXPECT_EQ(b, 0xff);
    bus.config_write(0, 3, 0, 1000, big);
    bus.config_read(0, 99, 9, 0, big);
    for (uint8_t b : big) EXPECT_EQ(b, 0xff);
}

TEST_F(PciBusTest, MmioWindowDecodesOnlyEnabledBarsInside) {
    PciMmioWindow window(bus, 0xe0000000);
    std::array<uint8_t, 4> b{};
    window.read(0x10, b);
    EXPECT_EQ(b[0], 16 + 0x10) << "BAR 1 at offset 0x10";
    window.write(0xffc, b);
    ASSERT_EQ(dev->writes.size(), 1u);
    EXPECT_EQ(dev->writes[0].offset, 0xffcu);
    window.write(0xffe, b);
    EXPECT_EQ(dev->writes.size(), 1u) << "straddling the BAR's end: not decoded";
    window.read(0x1000, b);
    EXPECT_EQ(b[0], 0xff) << "past the BAR";
    cfg_write(3 << 3, 0x04, 2, 0);   // memory space off
    window.read(0x10, b);
    EXPECT_EQ(b[0], 0xff);
    cfg_write(3 << 3, 0x04, 2, cfg::kCmdMemory);
    cfg_write(3 << 3, 0x14, 4, 0xe0100000u);   // the guest moves the BAR
    window.read(0x100010, b);
    EXPECT_EQ(b[0], 16 + 0x10);
    window.read(0x10, b);
    EXPECT_EQ(b[0], 0xff) << "not at the old address any more";
}

TEST(PciBus, PlugAndPlacementRefuseWhatDoesNotFit) {
    PciBus bus;
    EXPECT_FALSE(bus.plug(32, std::make_shared<HostBridge>(), 0));
    EXPECT_FALSE(bus.plug(0, nullptr, 0));
    ASSERT_TRUE(bus.plug(0, std::make_shared<HostBridge>(), 0));
    EXPECT_FALSE(bus.plug(0, std::make_shared<HostBridge>(), 0)) << "slot taken";
    ASSERT_TRUE(bus.plug(1, std::make_shared<ScratchDevice>(), 0));
    EXPECT_FALSE(bus.assign_resources(0xe0000000, 0x800)) << "a 4 KiB BAR in a 2 KiB window";
    EXPECT_TRUE(bus.assign_resources(0xe0000800, 0x2000)) << "aligned up to 0xe0001000";
}

}  // namespace
}  // namespace popek::devices::pci
