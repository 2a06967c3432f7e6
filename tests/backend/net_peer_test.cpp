// `popek net-peer` against itself over unix datagram sockets: real processes, real handshake,
// messages checked on both ends; a relay in the middle that tampers with, replays and injects
// packets (all dropped and counted while the genuine messages still arrive once); unaccepted
// identities; clear errors for bad keys and paths.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "netsec/ether.h"
#include "netsec/key_file.h"
#include "netsec/net_service.h"
#include "popek_process.h"
#include "util/unix_dgram.h"
#include "hostile_relay.h"

namespace popek::test {
namespace {

using namespace std::chrono_literals;

class NetPeer : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/popek-netpeer-XXXXXX";
        m_dir = ::mkdtemp(tmpl);
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }

    std::string path(const std::string& name) const { return m_dir + "/" + name; }
    /// `--gen-key` into DIR/name; the public key it printed.
    std::string gen_key(const std::string& name) {
        RunResult r = run_popek({"net-peer", "--gen-key", path(name)}, {}, 10s);
        EXPECT_EQ(r.status, 0) << r.err;
        std::string key = r.out.substr(0, r.out.find('\n'));
        EXPECT_TRUE(std::regex_match(key, std::regex("[0-9a-f]{64}"))) << r.out;
        return key;
    }
    std::vector<std::string> peer_args(const std::string& key_file, const std::string& accept, const std::string& local,
                                       const std::string& remote) {
        return {"net-peer", "--key", path(key_file), "--peer", accept, "--dgram", path(local) + "," + path(remote)};
    }

    std::string m_dir;
};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST_F(NetPeer, GeneratedKeyFileIsPrivateAndNotOverwritten) {
    std::string pub = gen_key("a.key");
    struct stat st{};
    ASSERT_EQ(::stat(path("a.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    RunResult again = run_popek({"net-peer", "--gen-key", path("a.key")}, {}, 10s);
    EXPECT_EQ(again.status, 2);
    EXPECT_NE(again.err.find("File exists"), std::string::npos) << again.err;
    RunResult shown = run_popek({"net-peer", "--key", path("a.key"), "--public"}, {}, 10s);
    EXPECT_EQ(shown.out, pub + "\n");
}

TEST_F(NetPeer, RecvBytesChecksTheStreamContentNotJustTheCount) {
    // --recv-bytes expects the netbench stream (include/popek/pvabi/netbench.h); a message of the
    // right size but the wrong bytes, and one of the wrong size, are both counted as bad.
    std::string a = gen_key("a.key"), b = gen_key("b.key");
    RunResult receiver;
    std::thread t([&] {
        receiver = run_popek(peer_args("b.key", a, "b.sock", "a.sock") + std::vector<std::string>{"--recv-bytes", "1402", "--timeout", "10"}, {}, 20s);
    });
    std::this_thread::sleep_for(200ms);
    RunResult sender = run_popek(peer_args("a.key", b, "a.sock", "b.sock") +
                                     std::vector<std::string>{"--send", "ab", "--send", "cd", "--timeout", "10"},
                                 {}, 20s);
    t.join();
    EXPECT_EQ(sender.status, 0) << sender.err;
    EXPECT_EQ(receiver.status, 1) << receiver.err;
    // Messages shorter than a sequence number take the next one: "ab" is message 0 (1400 bytes
    // expected), "cd" message 1 (the right 2 bytes long, the wrong bytes); nothing verified.
    EXPECT_NE(receiver.err.find("stream: 0 of 1402 bytes verified in 2 messages, lost 0, bad 2"), std::string::npos) << receiver.err;
    EXPECT_NE(receiver.err.find("the stream did not arrive intact"), std::string::npos) << receiver.err;
}

TEST_F(NetPeer, SendAndEchoExchangeMessagesBothWays) {
    std::string a = gen_key("a.key"), b = gen_key("b.key");
    RunResult responder;
    std::thread t([&] {
        responder = run_popek(peer_args("b.key", a, "b.sock", "a.sock") + std::vector<std::string>{"--echo", "--recv", "2", "--timeout", "10"}, {}, 20s);
    });
    RunResult initiator = run_popek(peer_args("a.key", b, "a.sock", "b.sock") +
                                        std::vector<std::string>{"--send", "hello over 0x88b5", "--send", "second\x01", "--recv", "2", "--timeout", "10"},
                                    {}, 20s);
    t.join();
    EXPECT_EQ(responder.status, 0) << responder.err;
    EXPECT_EQ(initiator.status, 0) << initiator.err;
    // Each side names the other by its key prefix; control bytes are escaped.
    std::string from_a = a.substr(0, 16) + ": ", from_b = b.substr(0, 16) + ": ";
    EXPECT_EQ(responder.out, from_a + "hello over 0x88b5\n" + from_a + "second\\x01\n");
    EXPECT_EQ(initiator.out, from_b + "hello over 0x88b5\n" + from_b + "second\\x01\n");
    EXPECT_NE(responder.err.find("received 2 (+1 keepalive)"), std::string::npos) << responder.err;
    EXPECT_NE(initiator.err.find("handshakes completed 1"), std::string::npos) << initiator.err;
}

TEST_F(NetPeer, UnacceptedIdentityGetsNoSessionAndIsCounted) {
    std::string a = gen_key("a.key"), b = gen_key("b.key"), c = gen_key("c.key");
    RunResult responder;
    std::thread t([&] { responder = run_popek(peer_args("b.key", c, "b.sock", "a.sock") + std::vector<std::string>{"--recv", "1", "--timeout", "1.5"}, {}, 20s); });
    RunResult initiator = run_popek(peer_args("a.key", b, "a.sock", "b.sock") + std::vector<std::string>{"--send", "let me in", "--timeout", "1"}, {}, 20s);
    t.join();
    EXPECT_EQ(initiator.status, 1);
    EXPECT_NE(initiator.err.find("no handshake"), std::string::npos) << initiator.err;
    EXPECT_EQ(responder.status, 1);
    EXPECT_EQ(responder.out, "");
    EXPECT_TRUE(std::regex_search(responder.err, std::regex("unknown-peer [1-9]"))) << responder.err;
}

TEST_F(NetPeer, TamperedReplayedAndForeignFramesAreDroppedAndCounted) {
    std::string a = gen_key("a.key"), b = gen_key("b.key");
    popek::test::HostileRelay relay(m_dir + "/relay-a", m_dir + "/a.sock", m_dir + "/relay-b", m_dir + "/b.sock");
    RunResult responder;
    std::thread t([&] { responder = run_popek(peer_args("b.key", a, "b.sock", "relay-b") + std::vector<std::string>{"--recv", "2", "--timeout", "10"}, {}, 20s); });
    std::this_thread::sleep_for(200ms);
    RunResult initiator = run_popek(peer_args("a.key", b, "a.sock", "relay-a") + std::vector<std::string>{"--send", "one", "--send", "two"}, {}, 20s);
    t.join();
    EXPECT_EQ(initiator.status, 0) << initiator.err;
    EXPECT_EQ(responder.status, 0) << responder.err;
    std::string from_a = a.substr(0, 16) + ": ";
    EXPECT_EQ(responder.out, from_a + "one\n" + from_a + "two\n");
    // Three data packets (keepalive, one, two): each once tampered and once replayed. The last
    // replay may arrive after the responder has its two messages and exits.
    EXPECT_NE(responder.err.find("bad-auth 3"), std::string::npos) << responder.err;
    EXPECT_TRUE(std::regex_search(responder.err, std::regex("replay [23],"))) << responder.err;
    EXPECT_NE(responder.err.find("other-ethertype 3"), std::string::npos) << responder.err;
}

/// popek-os's network service core (NetService), here on the host, against the real host tool
/// over the real transport: what the guest's netd will do through its netif.
TEST_F(NetPeer, NetServiceTalksToNetPeerOverUnixDatagrams) {
    std::string host_key = gen_key("host.key");
    netsec::Identity guest_id{};
    ASSERT_TRUE(netsec::identity_generate(guest_id));
    std::string guest_key = netsec::to_hex(guest_id.public_key, netsec::kKeyBytes);
    RunResult host;
    std::thread t([&] {
        host = run_popek(peer_args("host.key", guest_key, "host.sock", "guest.sock") +
                             std::vector<std::string>{"--echo", "--recv", "1", "--timeout", "10"},
                         {}, 20s);
    });
    auto socket = UnixDgramSocket::open(path("guest.sock"), path("host.sock"));
    ASSERT_TRUE(socket) << socket.error().message;
    netsec::NetService netd([](void* s, const uint8_t* f, size_t n) { static_cast<UnixDgramSocket*>(s)->send({f, n}); },
                            &*socket);
    int local = static_cast<int>(netd.add_identity(guest_id));
    auto key = netsec::parse_public_key(host_key);
    ASSERT_TRUE(key);
    auto start = std::chrono::steady_clock::now();
    auto ms = [&] { return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()); };
    int ch = static_cast<int>(netd.open(local, key->data(), true, ms()));
    ASSERT_GE(ch, 0);
    const std::string text = "ping from netd";
    bool sent = false;
    std::string echoed;
    uint8_t frame[netsec::kMaxFrame];
    while (echoed.empty() && ms() < 10000) {
        netd.tick(ms());
        if (!sent && netd.connected(ch))
            sent = netd.send(ch, reinterpret_cast<const uint8_t*>(text.data()), text.size()) > 0;
        if (auto got = socket->receive(frame, 20); got && *got) netd.on_frame(frame, **got);
        uint8_t buf[netsec::data::kMaxMessage];
        if (long n = netd.recv(ch, buf, sizeof buf); n > 0) echoed.assign(buf, buf + n);
    }
    t.join();
    EXPECT_EQ(echoed, text);
    EXPECT_EQ(host.status, 0) << host.err;
    EXPECT_EQ(host.out, guest_key.substr(0, 16) + ": " + text + "\n");
    EXPECT_EQ(netd.counters(local).handshakes_completed, 1u);
    EXPECT_EQ(netd.counters(local).dropped_bad_auth, 0u);
}

TEST_F(NetPeer, RunAcceptsADgramNetAndNamesABadPath) {
    RunResult ok = run_popek({"run", "--net", "dgram=" + path("vm.sock") + "," + path("peer.sock")}, {}, 30s);
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_FALSE(std::filesystem::exists(path("vm.sock"))) << "removed when the VM ends";
    RunResult bad = run_popek({"run", "--net", "dgram=" + path("missing/vm.sock") + "," + path("peer.sock")}, {}, 30s);
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.err.find("missing/vm.sock"), std::string::npos) << bad.err;
    // Under --xen the same option backs the Xen vif (not slirp): the bad path is named there too.
    RunResult xen = run_popek({"run", "--xen", "--kernel", POPEK_OS_ELF, "--net",
                               "dgram=" + path("missing/vm.sock") + "," + path("peer.sock")}, {}, 30s);
    EXPECT_EQ(xen.status, 2);
    EXPECT_NE(xen.err.find("--net: dgram: bind unix socket"), std::string::npos) << xen.err;
}

TEST_F(NetPeer, BadKeysAndPathsAreClearErrors) {
    std::string a = gen_key("a.key");
    auto err_of = [](const RunResult& r) {
        EXPECT_EQ(r.status, 2) << r.err;
        return r.err;
    };
    EXPECT_NE(err_of(run_popek(peer_args("a.key", "abcd", "x", "y") + std::vector<std::string>{"--recv", "1"}, {}, 10s))
                  .find("is not 64 hex digits"),
              std::string::npos);
    EXPECT_NE(err_of(run_popek(peer_args("a.key", std::string(64, 'g'), "x", "y") + std::vector<std::string>{"--recv", "1"}, {}, 10s))
                  .find("hex digits"),
              std::string::npos);
    EXPECT_NE(err_of(run_popek(peer_args("missing.key", a, "x", "y") + std::vector<std::string>{"--recv", "1"}, {}, 10s))
                  .find("missing.key"),
              std::string::npos);
    std::ofstream(path("junk.key")) << "not a key\n";
    ::chmod(path("junk.key").c_str(), 0600);
    EXPECT_NE(err_of(run_popek(peer_args("junk.key", a, "x", "y") + std::vector<std::string>{"--recv", "1"}, {}, 10s))
                  .find("is not a popek net key"),
              std::string::npos);
    ::chmod(path("a.key").c_str(), 0644);
    EXPECT_NE(err_of(run_popek(peer_args("a.key", a, "x", "y") + std::vector<std::string>{"--recv", "1"}, {}, 10s))
                  .find("chmod 600"),
              std::string::npos);
    ::chmod(path("a.key").c_str(), 0600);
    EXPECT_NE(err_of(run_popek(peer_args("a.key", a, "nodir/x", "y") + std::vector<std::string>{"--recv", "1"}, {}, 10s))
                  .find("nodir/x"),
              std::string::npos);
    EXPECT_NE(err_of(run_popek({"net-peer", "--key", path("a.key"), "--peer", a, "--dgram", "only-one", "--recv", "1"}, {}, 10s))
                  .find("LOCAL_PATH,REMOTE_PATH"),
              std::string::npos);
    EXPECT_NE(err_of(run_popek(peer_args("a.key", a, "x", "y"), {}, 10s)).find("nothing to do"), std::string::npos);
    EXPECT_NE(err_of(run_popek(peer_args("a.key", a, "x", "y") + std::vector<std::string>{"--send", std::string(2000, 'm')}, {}, 10s))
                  .find("at most 1468 bytes"),
              std::string::npos);
}

}  // namespace
}  // namespace popek::test
