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

TEST(IoDevices, DisksAreLockedAndWholeSectors) {
    char tmpl[] = "/tmp/popek-io-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 1000), 0);
    auto odd = open_disk({tmpl, true});
    ASSERT_FALSE(odd) << "a 1000-byte disk: its last 488 bytes would be invisible to the guest";
    EXPECT_NE(odd.error().message.find("1000 bytes, not a whole number of 512-byte sectors"), std::string::npos)
        << odd.error().message;
    ASSERT_EQ(::ftruncate(fd, 1024), 0);
    ::close(fd);
    auto writer = open_disk({tmpl, false});
    ASSERT_TRUE(writer) << writer.error().message;
    auto second = open_disk({tmpl, false});
    ::unlink(tmpl);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().message.rfind("--disk: disk '", 0), 0u) << second.error().message;
    EXPECT_NE(second.error().message.find("is in use"), std::string::npos) << second.error().message;
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
    // One image twice: both read-only, as a read-write second --disk of it is refused (lock_image).
    options.disks = {{tmpl, true}, {tmpl, true}};
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
