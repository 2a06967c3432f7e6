// `--net user` with --xen: the vif back end (pv::VifDevice) driven by a netif front end written
// against io/netif.h (tests/guests/xen/xen_netif.c). The guest ARPs for slirp's gateway and sends
// UDP datagrams to 10.0.2.2:PORT; slirp delivers them to this test's socket on 127.0.0.1:PORT, which
// echoes each back prefixed with "echo:". The guest checks the echoes; this test checks what
// arrived on the host.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "xen_guest.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

/// A UDP echo peer on 127.0.0.1 (an ephemeral port), answering "echo:" + datagram until stopped.
class UdpEchoPeer {
public:
    UdpEchoPeer() {
        m_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        EXPECT_GE(m_fd, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        EXPECT_EQ(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
        m_port = ntohs(a.sin_port);
        m_thread = std::thread([this] { loop(); });
    }
    ~UdpEchoPeer() {
        m_stop = true;
        m_thread.join();
        ::close(m_fd);
    }
    uint16_t port() const { return m_port; }
    std::vector<std::string> received() {
        std::lock_guard lock(m_lock);
        return m_received;
    }

private:
    void loop() {
        std::vector<char> buf(65536);
        while (!m_stop) {
            pollfd p{m_fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            sockaddr_in from{};
            socklen_t len = sizeof from;
            ssize_t n = ::recvfrom(m_fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n < 0) continue;
            std::string reply = "echo:" + std::string(buf.data(), static_cast<size_t>(n));
            (void)::sendto(m_fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
            std::lock_guard lock(m_lock);
            m_received.emplace_back(buf.data(), static_cast<size_t>(n));
        }
    }

    int m_fd = -1;
    uint16_t m_port = 0;
    std::atomic<bool> m_stop{false};
    std::mutex m_lock;
    std::vector<std::string> m_received;
    std::thread m_thread;
};

/// The far end of `--net tap=NAME`: waits for popek to create the interface, brings it up and,
/// on a packet socket bound to it, plays 10.0.2.2: answers ARP for it and echoes UDP datagrams to
/// `port` ("echo:" + payload), as slirp and UdpEchoPeer do together in the user-network test.
class TapPeer {
public:
    static constexpr uint8_t kMac[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
    TapPeer(std::string ifname, uint16_t port) : m_ifname(std::move(ifname)), m_port(port) {
        m_thread = std::thread([this] { loop(); });
    }
    ~TapPeer() {
        m_stop = true;
        m_thread.join();
    }
    std::vector<std::string> received() {
        std::lock_guard lock(m_lock);
        return m_received;
    }

private:
    static uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
    static void put16(uint8_t* p, size_t v) {
        p[0] = static_cast<uint8_t>(v >> 8);
        p[1] = static_cast<uint8_t>(v);
    }
    static uint16_t ip_checksum(const uint8_t* h) {
        uint32_t sum = 0;
        for (int i = 0; i < 20; i += 2) sum += get16(h + i);
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        return static_cast<uint16_t>(~sum);
    }
    int open_interface() {
        unsigned index = 0;
        while (!m_stop && (index = if_nametoindex(m_ifname.c_str())) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (m_stop) return -1;
        int ctl = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ifreq ifr{};
        std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", m_ifname.c_str());
        if (::ioctl(ctl, SIOCGIFFLAGS, &ifr) == 0) {
            ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
            (void)::ioctl(ctl, SIOCSIFFLAGS, &ifr);
        }
        ::close(ctl);
        int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        sockaddr_ll a{};
        a.sll_family = AF_PACKET;
        a.sll_protocol = htons(ETH_P_ALL);
        a.sll_ifindex = static_cast<int>(index);
        if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            fd = -1;
        }
        return fd;
    }
    void loop() {
        int fd = open_interface();
        if (fd < 0) return;
        std::vector<uint8_t> f(65536);
        while (!m_stop) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            ssize_t n = ::recv(fd, f.data(), f.size(), 0);
            if (n >= 42) answer(fd, f.data(), static_cast<size_t>(n));
        }
        ::close(fd);
    }
    void answer(int fd, uint8_t* f, size_t n) {
        static const uint8_t gateway[4] = {10, 0, 2, 2};
        if (get16(f + 12) == 0x0806 && get16(f + 20) == 1 && std::memcmp(f + 38, gateway, 4) == 0) {
            std::vector<uint8_t> r(f, f + 42);  // ARP reply: we are 10.0.2.2
            std::memcpy(r.data(), f + 6, 6);
            std::memcpy(r.data() + 6, kMac, 6);
            put16(r.data() + 20, 2);
            std::memcpy(r.data() + 22, kMac, 6);
            std::memcpy(r.data() + 28, gateway, 4);
            std::memcpy(r.data() + 32, f + 22, 10);  // their MAC and IP
            (void)::send(fd, r.data(), r.size(), 0);
            return;
        }
        if (get16(f + 12) != 0x0800 || f[23] != 17 || (f[14] & 15) != 5 || get16(f + 36) != m_port) return;
        size_t ulen = get16(f + 38);
        if (ulen < 8 || 34 + ulen > n) return;
        std::string payload(reinterpret_cast<char*>(f + 42), ulen - 8);
        std::string reply = "echo:" + payload;
        std::vector<uint8_t> r(42 + reply.size());
        std::memcpy(r.data(), f + 6, 6);
        std::memcpy(r.data() + 6, kMac, 6);
        put16(r.data() + 12, 0x0800);
        uint8_t* ip = r.data() + 14;
        ip[0] = 0x45;
        put16(ip + 2, 28 + reply.size());
        ip[8] = 64;
        ip[9] = 17;
        std::memcpy(ip + 12, f + 30, 4);  // from their destination (10.0.2.2)
        std::memcpy(ip + 16, f + 26, 4);  // to their source
        put16(ip + 10, ip_checksum(ip));
        put16(ip + 20, m_port);
        std::memcpy(ip + 22, f + 34, 2);  // their source port
        put16(ip + 24, 8 + reply.size());
        std::memcpy(ip + 28, reply.data(), reply.size());
        (void)::send(fd, r.data(), r.size(), 0);
        std::lock_guard lock(m_lock);
        m_received.push_back(std::move(payload));
    }

    const std::string m_ifname;
    const uint16_t m_port;
    std::atomic<bool> m_stop{false};
    std::mutex m_lock;
    std::vector<std::string> m_received;
    std::thread m_thread;
};

class XenNetifTest : public XenGuestTest {
protected:
    /// What the host saw of the guest's two datagrams (xen_netif.c), byte for byte.
    static void expect_guest_datagrams(const std::vector<std::string>& got) {
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0], "popek netif ping");
        ASSERT_EQ(got[1].size(), 1400u);
        for (size_t i = 0; i < got[1].size(); ++i)
            ASSERT_EQ(static_cast<uint8_t>(got[1][i]), static_cast<uint8_t>(i * 7 + 3)) << "byte " << i;
    }
};

TEST_P(XenNetifTest, ArpAndUdpEchoThroughSlirp) {
    UdpEchoPeer peer;
    RUN_XEN(r, "xen_netif", {"--net", "user", "--cmdline", "port=" + std::to_string(peer.port())});
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("netif: connected, mac 0:16:3e:50:4b:0"));
    EXPECT_THAT(r.out, HasSubstr("arp.gateway-replied              PASS"));
    EXPECT_THAT(r.out, HasSubstr("udp.1400/echo-length             got=1405 want=1405 PASS"));

    expect_guest_datagrams(peer.received());
}

// `--net tap=NAME`: the same exchange with this test playing the host side of the tap interface.
// Needs CAP_NET_ADMIN (popek creates the interface, the test brings it up); skipped without it.
TEST_P(XenNetifTest, ArpAndUdpEchoThroughTap) {
    const std::string ifname = "pkvif" + std::to_string(::getpid() % 100000) + (engine() == "kvm" ? "k" : "i");
    std::optional<TapPeer> peer;
    peer.emplace(ifname, 7777);
    RUN_XEN(r, "xen_netif", {"--net", "tap=" + ifname, "--cmdline", "port=7777"});
    if (r.status != 0 && (r.err.find("/dev/net/tun") != std::string::npos || r.err.find("TUNSETIFF") != std::string::npos))
        GTEST_SKIP() << "no tap devices here: " << r.err;
    auto got = peer->received();
    peer.reset();
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("netif: 10.0.2.2 is at 52:54:0:aa:bb:cc"));
    expect_guest_datagrams(got);
}

// Hostile front end (issue 6 item 8): every bad tx/rx request gets an error response, a corrupted
// ring takes the vif to Closing with an "error" node, popek keeps running and the vif reconnects.
TEST_P(XenNetifTest, HostileFrontEndGetsErrorsAndTheVifReconnects) {
    RUN_XEN(r, "xen_hostile_netif", {"--net", "user"});
    expect_all_passed(r);
    for (const char* row : {"tx.offset+size-past-page/answered got=1 want=1 PASS",
                            "tx.chain-over-limit/answered     got=25 want=25 PASS",
                            "tx.extra-info/wrong-status       got=0 want=0 PASS",
                            "rx.ungranted-buffer              got=-1 want=-1 PASS",
                            "rx.readonly-untouched            PASS",
                            "rx.reused-id-answered            got=2 want=2 PASS",
                            "ring.rx/backend-closing          got=5 want=5 PASS",
                            "ring.tx/arp-after                PASS"})
        EXPECT_THAT(r.out, HasSubstr(row));
    EXPECT_THAT(r.out, HasSubstr("backend error 'netif rx ring indices out of range: ring shut'"));
    EXPECT_THAT(r.out, HasSubstr("backend error 'netif tx ring indices out of range: ring shut'"));
}

TEST_P(XenNetifTest, NoNetMeansNoVif) {
    RUN_XEN(r, "xen_netif", {"--cmdline", "port=9"});
    EXPECT_THAT(r.out, HasSubstr("netif.connect                    got=-2 want=0 FAIL"));
    EXPECT_NE(r.status, 0);
}

TEST_P(XenNetifTest, BadTapNameIsAnError) {
    RUN_XEN(r, "xen_netif", {"--net", "tap=this-name-is-far-too-long-for-an-interface"});
    EXPECT_NE(r.status, 0);
    EXPECT_THAT(r.err, HasSubstr("--net"));
}

INSTANTIATE_FOR_ENGINES(XenNetifTest);

}  // namespace
}  // namespace popek::test
