// vmm/io_devices: the one place --disk and --net become devices. Errors name the option; the
// virtio devices come in option order on virtio-mmio.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>

#include "devices/virtio/mmio_devices.h"
#include "memory/guest_memory.h"
#include "vmm/io_devices.h"

namespace popek::vmm {
namespace {

TEST(IoDevices, HostBackEndErrorsNameTheOption) {
    auto disk = open_disk({"/nonexistent/popek-disk.img", true});
    ASSERT_FALSE(disk);
    EXPECT_EQ(disk.error().message.rfind("--disk: ", 0), 0u) << disk.error().message;
    NetOption bad{NetOption::Kind::Dgram, "", "", "/tmp/popek-no-such-peer"};
    auto net = open_net(bad);
    ASSERT_FALSE(net);
    EXPECT_EQ(net.error().message.rfind("--net: dgram: ", 0), 0u) << net.error().message;
    NetOption tap{NetOption::Kind::Tap, std::string(40, 'x'), "", ""};
    auto t = open_net(tap);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().message.rfind("--net: ", 0), 0u) << t.error().message;
}

TEST(IoDevices, VirtioDevicesInOptionOrder) {
    char tmpl[] = "/tmp/popek-io-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 1 << 16), 0);
    ::close(fd);
    auto mem = memory::GuestMemory::create(1 << 20).value();
    bus::Bus mmio;
    devices::virtio::MmioDevices virtio(mem, mmio, [](uint32_t) { return devices::IrqLine([](bool) {}); });
    VmOptions options;
    options.disks = {{tmpl, true}, {tmpl, false}};
    options.virtio_rng = true;
    ASSERT_TRUE(add_virtio_devices(virtio, options));
    ::unlink(tmpl);
    auto devs = virtio.devices();
    ASSERT_EQ(devs.size(), 3u);
    EXPECT_EQ(devs[0].device_id, 2u);   // blk
    EXPECT_EQ(devs[1].device_id, 2u);
    EXPECT_EQ(devs[2].device_id, 4u);   // rng
    virtio.shutdown();
}

}  // namespace
}  // namespace popek::vmm
