// The CLI's --disk/--net/--rng and the placement of virtio-mmio devices on the mmio bus.
#include <gtest/gtest.h>

#include "bus/bus.h"
#include "cli/cli.h"
#include "devices/virtio/entropy.h"
#include "devices/virtio/mmio_devices.h"

namespace {

using namespace popek;

TEST(VirtioCli, DiskSpecs) {
    auto rw = cli::parse_disk("/images/root.img");
    ASSERT_TRUE(rw);
    EXPECT_EQ(rw->path, "/images/root.img");
    EXPECT_FALSE(rw->read_only);
    // The first comma starts the flags: file names with commas are not supported.
    EXPECT_FALSE(cli::parse_disk("a,b.img,ro"));
    auto ro = cli::parse_disk("disk.img,ro");
    ASSERT_TRUE(ro);
    EXPECT_TRUE(ro->read_only);
    EXPECT_FALSE(cli::parse_disk(""));
    EXPECT_FALSE(cli::parse_disk(",ro"));
    EXPECT_FALSE(cli::parse_disk("disk.img,rw"));
}

TEST(VirtioCli, NetSpecs) {
    EXPECT_EQ(cli::parse_net("user")->kind, vmm::NetOption::Kind::User);
    auto tap = cli::parse_net("tap=tap0");
    ASSERT_TRUE(tap);
    EXPECT_EQ(tap->kind, vmm::NetOption::Kind::Tap);
    EXPECT_EQ(tap->tap_name, "tap0");
    EXPECT_FALSE(cli::parse_net("tap="));
    EXPECT_FALSE(cli::parse_net("bridge"));
    auto dgram = cli::parse_net("dgram=/tmp/a.sock,/tmp/b.sock");
    ASSERT_TRUE(dgram);
    EXPECT_EQ(dgram->kind, vmm::NetOption::Kind::Dgram);
    EXPECT_EQ(dgram->dgram_local, "/tmp/a.sock");
    EXPECT_EQ(dgram->dgram_remote, "/tmp/b.sock");
    for (const char* bad : {"dgram=", "dgram=/a", "dgram=,/b", "dgram=/a,", "dgram=/a,/b,/c"})
        EXPECT_FALSE(cli::parse_net(bad)) << bad;
}

TEST(VirtioCli, RunOptions) {
    auto p = cli::parse({"run", "--disk", "a.img", "--disk", "b.img,ro", "--net", "user", "--net", "tap=t1", "--rng"});
    ASSERT_EQ(p.action, cli::Parsed::Run) << p.message;
    ASSERT_EQ(p.options.disks.size(), 2u);
    EXPECT_TRUE(p.options.disks[1].read_only);
    ASSERT_EQ(p.options.nets.size(), 2u);
    EXPECT_EQ(p.options.nets[1].tap_name, "t1");
    EXPECT_TRUE(p.options.virtio_rng);
    auto bad = cli::parse({"run", "--net", "nope"});
    EXPECT_EQ(bad.action, cli::Parsed::Exit);
    EXPECT_EQ(bad.exit_status, 2);
    EXPECT_NE(bad.message.find("--net 'nope'"), std::string::npos);
}

TEST(VirtioPlacement, DevicesAnswerAtTheirWindows) {
    auto mem = *memory::GuestMemory::create(1 << 20);
    bus::Bus mmio;
    std::vector<uint32_t> raised;
    devices::virtio::MmioDevices virtio(mem, mmio, [&](uint32_t gsi) {
        return devices::IrqLine([&raised, gsi](bool level) { if (level) raised.push_back(gsi); });
    });
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(virtio.add(std::make_shared<devices::virtio::Entropy>()));
    EXPECT_FALSE(virtio.add(std::make_shared<devices::virtio::Entropy>()));   // out of GSIs
    ASSERT_EQ(virtio.devices().size(), 8u);
    for (const auto& d : virtio.devices()) {
        uint8_t b[4];
        ASSERT_TRUE(mmio.read(d.base, b));
        EXPECT_EQ(bus::span_to_u64(b), 0x74726976u);
        ASSERT_TRUE(mmio.read(d.base + 8, b));
        EXPECT_EQ(bus::span_to_u64(b), d.device_id);
    }
    EXPECT_EQ(virtio.devices()[7].base, 0xd0007000u);
    EXPECT_EQ(virtio.devices()[7].gsi, 15u);
    // Nothing else answers between the windows' registers and the next window.
    uint8_t b[4];
    EXPECT_FALSE(mmio.read(0xd0008000, b));
}

}  // namespace
