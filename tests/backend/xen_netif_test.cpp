// `--net user` with --xen: the vif back end (pv::VifDevice) driven by a netif front end written
// against io/netif.h (tests/guests/xen/xen_netif.c). The guest ARPs for slirp's gateway and sends
// UDP datagrams to 10.0.2.2:PORT; slirp delivers them to this test's socket on 127.0.0.1:PORT, which
// echoes each back prefixed with "echo:". The guest checks the echoes; this test checks what
// arrived on the host.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
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

class XenNetifTest : public XenGuestTest {};

TEST_P(XenNetifTest, ArpAndUdpEchoThroughSlirp) {
    UdpEchoPeer peer;
    RUN_XEN(r, "xen_netif", {"--net", "user", "--cmdline", "port=" + std::to_string(peer.port())});
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("netif: connected, mac 0:16:3e:50:4b:0"));
    EXPECT_THAT(r.out, HasSubstr("arp.gateway-replied              PASS"));
    EXPECT_THAT(r.out, HasSubstr("udp.1400/echo-length             got=1405 want=1405 PASS"));

    // What the host peer received: the guest's two datagrams, byte for byte.
    auto got = peer.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], "popek netif ping");
    ASSERT_EQ(got[1].size(), 1400u);
    for (size_t i = 0; i < got[1].size(); ++i)
        ASSERT_EQ(static_cast<uint8_t>(got[1][i]), static_cast<uint8_t>(i * 7 + 3)) << "byte " << i;
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
