// virtio-net (5.1): the device with a fake backend, then real frames through libslirp and a tap.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "devices/virtio/net.h"
#include "virtio_fake_driver.h"

namespace {

using namespace popek::devices::virtio;
using namespace popek::host;
using popek::memory::GuestMemory;
using popek::test::FakeDriver;
using Frame = std::vector<uint8_t>;

constexpr MacAddress kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct FakeBackend final : NetBackend {
    std::mutex mutex;
    std::vector<Frame> sent;
    Receive rx;
    std::string_view name() const override { return "fake"; }
    popek::Result<void> start(Receive r) override {
        rx = std::move(r);
        return {};
    }
    void send(std::span<const uint8_t> f) override {
        std::lock_guard lock(mutex);
        sent.emplace_back(f.begin(), f.end());
    }
    void stop() override {}
};

struct NetFixture : ::testing::Test {
    GuestMemory mem = *GuestMemory::create(4 << 20);
    std::shared_ptr<Net> net;
    std::unique_ptr<MmioTransport> t;
    std::unique_ptr<FakeDriver> drv;

    void make(std::unique_ptr<NetBackend> backend) {
        net = std::make_shared<Net>(std::move(backend), kMac);
        t = std::make_unique<MmioTransport>(net, mem, nullptr);
        drv = std::make_unique<FakeDriver>(*t, mem);
    }
    /// Posts `n` receive buffers of `size` bytes; returns their addresses.
    std::vector<uint64_t> post_rx(int n, uint32_t size = 1526) {
        std::vector<uint64_t> out;
        for (int i = 0; i < n; ++i) {
            out.push_back(drv->alloc(size));
            drv->add_chain(kNetReceiveQueue, {{out.back(), size, true}});
        }
        drv->kick(kNetReceiveQueue);
        return out;
    }
    void transmit(const Frame& frame) {
        Frame with_header(sizeof(NetHeader), 0);
        with_header.insert(with_header.end(), frame.begin(), frame.end());
        uint64_t a = drv->alloc_bytes(with_header);
        // Header and frame in separate descriptors, as Linux may do.
        drv->add_chain(kNetTransmitQueue, {{a, static_cast<uint32_t>(sizeof(NetHeader))},
                                           {a + sizeof(NetHeader), static_cast<uint32_t>(frame.size())}});
        drv->kick(kNetTransmitQueue);
    }
    /// Waits for received frames (the backend's thread delivers them) and returns them.
    std::vector<Frame> wait_rx(const std::vector<uint64_t>& bufs, size_t want, std::chrono::milliseconds limit) {
        std::vector<Frame> frames;
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (frames.size() < want && std::chrono::steady_clock::now() < deadline) {
            for (auto& u : drv->take_used(kNetReceiveQueue)) {
                if (u.len < sizeof(NetHeader)) continue;
                // The fake driver posts one buffer per descriptor index, in order.
                frames.push_back(drv->bytes(bufs.at(u.id) + sizeof(NetHeader), u.len - sizeof(NetHeader)));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return frames;
    }
};

Frame arp_request(const MacAddress& mac, const char* sender_ip, const char* target_ip) {
    Frame f(42, 0);
    std::fill_n(f.begin(), 6, 0xff);
    std::copy(mac.begin(), mac.end(), f.begin() + 6);
    f[12] = 0x08, f[13] = 0x06;                       // ARP
    f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;    // Ethernet, IPv4
    f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;       // request
    std::copy(mac.begin(), mac.end(), f.begin() + 22);
    inet_pton(AF_INET, sender_ip, &f[28]);
    inet_pton(AF_INET, target_ip, &f[38]);
    return f;
}

bool is_arp_reply_from(const Frame& f, const char* ip) {
    uint8_t want[4];
    inet_pton(AF_INET, ip, want);
    return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && std::memcmp(&f[28], want, 4) == 0 &&
           std::equal(kMac.begin(), kMac.end(), f.begin());
}

TEST_F(NetFixture, ConfigHoldsMacAndLinkUp) {
    make(std::make_unique<FakeBackend>());
    uint8_t cfg[8];
    t->read(mmio_reg::kConfig, std::span(cfg, 4));
    t->read(mmio_reg::kConfig + 4, std::span(cfg + 4, 4));
    EXPECT_TRUE(std::equal(kMac.begin(), kMac.end(), cfg));
    EXPECT_EQ(cfg[6] | cfg[7] << 8, kNetStatusLinkUp);
    EXPECT_TRUE(drv->offered_features() & feature_bit(kNetFeatureMac));
}

TEST_F(NetFixture, TransmitStripsHeader) {
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    make(std::move(owned));
    drv->init(2);
    Frame frame = arp_request(kMac, "10.0.2.15", "10.0.2.2");
    transmit(frame);
    ASSERT_EQ(backend->sent.size(), 1u);
    EXPECT_EQ(backend->sent[0], frame);
    EXPECT_EQ(drv->take_used(kNetTransmitQueue).size(), 1u);
    // A buffer shorter than the header is returned, not sent.
    uint64_t a = drv->alloc(4);
    drv->add_chain(kNetTransmitQueue, {{a, 4}});
    drv->kick(kNetTransmitQueue);
    EXPECT_EQ(backend->sent.size(), 1u);
    EXPECT_EQ(drv->take_used(kNetTransmitQueue).size(), 1u);
    EXPECT_FALSE(drv->needs_reset());
}

TEST_F(NetFixture, ReceiveWaitsForBuffersAndAddsHeader) {
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    make(std::move(owned));
    Frame early(60, 0xab);
    drv->init(2);
    ASSERT_TRUE(backend->rx);   // started by DRIVER_OK
    backend->rx(early);         // no receive buffers yet: kept pending
    EXPECT_EQ(drv->used_idx(kNetReceiveQueue), 0);
    auto bufs = post_rx(2);
    auto used = drv->take_used(kNetReceiveQueue);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].len, sizeof(NetHeader) + early.size());
    auto hdr = *mem.read_obj<NetHeader>(bufs[0]);
    EXPECT_EQ(hdr.num_buffers, 1);
    EXPECT_EQ(hdr.flags, 0);
    EXPECT_EQ(drv->bytes(bufs[0] + sizeof(NetHeader), early.size()), early);
    // A frame that does not fit the buffer is dropped, the buffer returned empty.
    backend->rx(Frame(3000, 1));
    used = drv->take_used(kNetReceiveQueue);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].len, 0u);
    EXPECT_EQ(net->dropped_frames(), 1u);
}

// popek starts the backend at set-up (vmm/io_devices.cpp), so that no vCPU thread opens sockets
// or starts threads under seccomp; a frame before the driver is gone after its reset. The
// FlushMetrics figures count what crossed the device each way (docs/metrics.md).
TEST_F(NetFixture, BackendStartsAtSetUpAndStatsCountFrames) {
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    make(std::move(owned));
    ASSERT_TRUE(net->start_backend());
    ASSERT_TRUE(backend->rx);        // before any driver
    backend->rx(Frame(60, 0x11));    // no driver yet
    drv->init(2);                    // its reset drops that frame
    ASSERT_TRUE(net->start_backend());   // once only: the same receiver
    Frame frame = arp_request(kMac, "10.0.2.15", "10.0.2.2");
    transmit(frame);
    auto bufs = post_rx(2);
    EXPECT_TRUE(drv->take_used(kNetReceiveQueue).empty());
    backend->rx(Frame(70, 0x22));
    auto used = drv->take_used(kNetReceiveQueue);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].len, sizeof(NetHeader) + 70);
    const Net::Stats st = net->stats();
    EXPECT_EQ(st.tx_frames, 1u);
    EXPECT_EQ(st.tx_bytes, frame.size());
    EXPECT_EQ(st.rx_frames, 1u);
    EXPECT_EQ(st.rx_bytes, 70u);
}

TEST_F(NetFixture, PendingFramesAreBounded) {
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    make(std::move(owned));
    drv->init(2, 256);
    for (size_t i = 0; i < Net::kMaxPendingFrames + 10; ++i) backend->rx(Frame(64, static_cast<uint8_t>(i)));
    EXPECT_EQ(net->dropped_frames(), 10u);
    // After a reset the driver gets none of the stale frames.
    drv->set_reg(mmio_reg::kStatus, 0);
    drv->init(2);
    post_rx(1);
    EXPECT_EQ(drv->used_idx(kNetReceiveQueue), 0);
}

TEST_F(NetFixture, SlirpAnswersArpForTheGateway) {
    auto slirp = make_slirp_backend();
    ASSERT_TRUE(slirp);
    make(std::move(*slirp));
    drv->init(2);
    auto bufs = post_rx(8);
    transmit(arp_request(kMac, "10.0.2.15", "10.0.2.2"));
    auto frames = wait_rx(bufs, 1, std::chrono::seconds(5));
    ASSERT_FALSE(frames.empty()) << "no frame from slirp";
    EXPECT_TRUE(is_arp_reply_from(frames[0], "10.0.2.2"));
}

/// A DHCPDISCOVER (RFC 2131) from `mac`: Ethernet, IPv4 broadcast, UDP 68 -> 67, BOOTP with the
/// DHCP magic cookie and option 53 = DISCOVER, padded to the 300-byte BOOTP minimum.
Frame dhcp_discover(const MacAddress& mac) {
    Frame f(14 + 20 + 8 + 300, 0);
    std::fill_n(f.begin(), 6, 0xff);
    std::copy(mac.begin(), mac.end(), f.begin() + 6);
    f[12] = 0x08;
    uint8_t* ip = &f[14];
    ip[0] = 0x45;
    ip[2] = (20 + 8 + 300) >> 8, ip[3] = (20 + 8 + 300) & 0xff;
    ip[8] = 64, ip[9] = 17;
    std::fill_n(ip + 16, 4, 0xff);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8), ip[11] = static_cast<uint8_t>(~sum);
    uint8_t* udp = ip + 20;
    udp[1] = 68, udp[3] = 67, udp[4] = (8 + 300) >> 8, udp[5] = (8 + 300) & 0xff;
    uint8_t* bootp = udp + 8;
    bootp[0] = 1, bootp[1] = 1, bootp[2] = 6;
    bootp[4] = 0x12, bootp[5] = 0x34, bootp[6] = 0x56, bootp[7] = 0x78;   // xid
    bootp[10] = 0x80;                                                     // broadcast reply
    std::copy(mac.begin(), mac.end(), bootp + 28);
    const uint8_t options[] = {99, 130, 83, 99, 53, 1, 1, 255};
    std::copy(std::begin(options), std::end(options), bootp + 236);
    return f;
}

TEST_F(NetFixture, SlirpOffersAnAddressOverDhcp) {
    auto slirp = make_slirp_backend();
    ASSERT_TRUE(slirp);
    make(std::move(*slirp));
    drv->init(2);
    auto bufs = post_rx(8);
    transmit(dhcp_discover(kMac));
    auto frames = wait_rx(bufs, 1, std::chrono::seconds(5));
    ASSERT_FALSE(frames.empty()) << "no DHCP offer";
    const Frame& f = frames[0];
    ASSERT_GE(f.size(), 42u + 240u + 3u);
    EXPECT_EQ(f[23], 17);                          // UDP
    EXPECT_EQ(f[36] << 8 | f[37], 68);             // to the client port
    const uint8_t* bootp = &f[42];
    EXPECT_EQ(bootp[0], 2);                        // BOOTREPLY
    EXPECT_EQ(bootp[4], 0x12);                     // our xid
    uint8_t offered[4];
    inet_pton(AF_INET, "10.0.2.15", offered);
    EXPECT_EQ(std::memcmp(bootp + 16, offered, 4), 0) << "yiaddr";
    EXPECT_EQ(bootp[240], 53);                     // first option: DHCP message type
    EXPECT_EQ(bootp[242], 2);                      // OFFER
}

TEST_F(NetFixture, ReceiveAfterReinit) {
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    make(std::move(owned));
    drv->init(2, 64);
    backend->rx(Frame(64, 7));
    drv->init(2, 64);
    backend->rx(Frame(64, 7));
    post_rx(8, 128);
    EXPECT_EQ(drv->take_used(kNetReceiveQueue).size(), 1u);
    backend->rx(Frame(64, 7));
    EXPECT_EQ(drv->take_used(kNetReceiveQueue).size(), 1u);
}

TEST_F(NetFixture, ReceiveRacesWithResets) {
    // Frames arrive on the backend's thread while the driver resets and re-initialises the device
    // over and over: no deadlock, no broken ring, and every incarnation of the device gets frames.
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    make(std::move(owned));
    drv->init(2, 64);
    std::atomic<bool> stop{false};
    std::thread pusher([&] {
        while (!stop) backend->rx(Frame(64, 7));
    });
    int rounds_with_frames = 0;
    for (int round = 0; round < 100; ++round) {
        drv->init(2, 64);
        post_rx(8, 128);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        size_t got = 0;
        while (got == 0 && std::chrono::steady_clock::now() < deadline) {
            got = drv->take_used(kNetReceiveQueue).size();
            if (got == 0) std::this_thread::yield();
        }
        rounds_with_frames += got > 0;
        EXPECT_FALSE(drv->needs_reset());
    }
    stop = true;
    pusher.join();
    EXPECT_EQ(rounds_with_frames, 100);
}

/// Brings `ifname` up as 10.99.0.1/24; false when this host does not let us.
bool configure_tap(const std::string& ifname) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, "10.99.0.1", &sin->sin_addr);
    bool ok = ::ioctl(s, SIOCSIFADDR, &ifr) == 0;
    inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
    ok = ok && ::ioctl(s, SIOCSIFNETMASK, &ifr) == 0;
    ok = ok && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    ::close(s);
    return ok;
}

TEST_F(NetFixture, TapCarriesArpToTheHostKernel) {
    std::string ifname = "popek" + std::to_string(::getpid() % 100000);
    auto tap = make_tap_backend(ifname);
    if (!tap) GTEST_SKIP() << "no tap here: " << tap.error().message;
    if (!configure_tap(ifname)) GTEST_SKIP() << "cannot configure " << ifname << " (needs CAP_NET_ADMIN)";
    make(std::move(*tap));
    drv->init(2, 64);
    auto bufs = post_rx(32);
    transmit(arp_request(kMac, "10.99.0.2", "10.99.0.1"));
    // The host may also send IPv6 router solicitations and the like: look for the ARP reply.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool found = false;
    while (!found && std::chrono::steady_clock::now() < deadline)
        for (auto& f : wait_rx(bufs, 1, std::chrono::milliseconds(200))) found = found || is_arp_reply_from(f, "10.99.0.1");
    EXPECT_TRUE(found);
}

TEST(NetBackends, TapNameIsChecked) {
    EXPECT_FALSE(make_tap_backend(""));
    EXPECT_FALSE(make_tap_backend(std::string(40, 'x')));
}

}  // namespace
