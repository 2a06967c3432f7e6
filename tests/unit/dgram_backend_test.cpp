// `--net dgram=LOCAL,REMOTE`: frames cross between two backends as unix datagrams; bad paths are
// clear errors; a stale socket file is replaced, a live one is not.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "host/net/net_backend.h"
#include "util/unix_dgram.h"

using namespace popek;
using namespace popek::host;

namespace {

struct Inbox {
    std::mutex lock;
    std::condition_variable cv;
    std::deque<std::vector<uint8_t>> frames;
    NetBackend::Receive receiver() {
        return [this](std::span<const uint8_t> f) {
            std::lock_guard g(lock);
            frames.emplace_back(f.begin(), f.end());
            cv.notify_all();
        };
    }
    std::vector<uint8_t> next() {
        std::unique_lock g(lock);
        if (!cv.wait_for(g, std::chrono::seconds(5), [this] { return !frames.empty(); })) return {};
        auto f = std::move(frames.front());
        frames.pop_front();
        return f;
    }
};

std::string temp_dir() {
    char tmpl[] = "/tmp/popek-dgram-XXXXXX";
    return ::mkdtemp(tmpl);
}

TEST(DgramBackend, FramesCrossBothWays) {
    std::string dir = temp_dir();
    auto a = make_dgram_backend(dir + "/a", dir + "/b");
    ASSERT_TRUE(a) << a.error().message;
    (*a)->send(std::vector<uint8_t>(60, 1));   // b is not there yet: lost, no crash
    auto b = make_dgram_backend(dir + "/b", dir + "/a");
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ((*a)->name(), "dgram");
    Inbox at_a, at_b;
    ASSERT_TRUE((*a)->start(at_a.receiver()));
    ASSERT_TRUE((*b)->start(at_b.receiver()));
    std::vector<uint8_t> frame(1514);
    for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i * 7);
    (*a)->send(frame);
    EXPECT_EQ(at_b.next(), frame);
    std::vector<uint8_t> jumbo(9000, 0x5a);
    (*b)->send(jumbo);
    EXPECT_EQ(at_a.next(), jumbo);
    (*a)->stop();
    (*b)->stop();
    a->reset();
    b->reset();
    struct stat st{};
    EXPECT_NE(::stat((dir + "/a").c_str(), &st), 0) << "socket file removed on close";
    ::rmdir(dir.c_str());
}

TEST(DgramBackend, BadPathsAreClearErrors) {
    std::string dir = temp_dir();
    auto too_long = make_dgram_backend(dir + "/" + std::string(120, 'x'), dir + "/b");
    ASSERT_FALSE(too_long);
    EXPECT_NE(too_long.error().message.find("too long"), std::string::npos) << too_long.error().message;
    EXPECT_FALSE(make_dgram_backend("", dir + "/b"));
    auto same = make_dgram_backend(dir + "/a", dir + "/a");
    ASSERT_FALSE(same);
    EXPECT_NE(same.error().message.find("same"), std::string::npos);
    auto no_dir = make_dgram_backend(dir + "/missing/a", dir + "/b");
    ASSERT_FALSE(no_dir);
    EXPECT_NE(no_dir.error().message.find("missing/a"), std::string::npos) << no_dir.error().message;
    std::ofstream(dir + "/file") << "not a socket";
    EXPECT_FALSE(make_dgram_backend(dir + "/file", dir + "/b")) << "a regular file is never replaced";
    std::remove((dir + "/file").c_str());
    ::rmdir(dir.c_str());
}

TEST(DgramBackend, StaleSocketIsReplacedLiveOneIsNot) {
    std::string dir = temp_dir();
    {
        auto live = UnixDgramSocket::open(dir + "/a", dir + "/b");
        ASSERT_TRUE(live);
        auto second = UnixDgramSocket::open(dir + "/a", dir + "/c");
        ASSERT_FALSE(second) << "a socket someone is bound to stays theirs";
    }
    // Simulate a crashed owner: bind, then close without unlinking.
    {
        auto s = unix_address(dir + "/stale");
        int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&*s), sizeof *s), 0);
        ::close(fd);
    }
    auto replaced = UnixDgramSocket::open(dir + "/stale", dir + "/b");
    EXPECT_TRUE(replaced) << (replaced ? "" : replaced.error().message);
    std::filesystem::remove_all(dir);
}

TEST(UnixDgramSocket, ReceiveTimesOutThenDelivers) {
    std::string dir = temp_dir();
    auto a = UnixDgramSocket::open(dir + "/a", dir + "/b");
    auto b = UnixDgramSocket::open(dir + "/b", dir + "/a");
    ASSERT_TRUE(a && b);
    uint8_t buf[64];
    auto none = b->receive(buf, 20);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    const uint8_t msg[] = {1, 2, 3};
    EXPECT_TRUE(a->send(msg));
    auto got = b->receive(buf, 1000);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ(**got, 3u);
    EXPECT_EQ(buf[2], 3);
    std::filesystem::remove_all(dir);
}

}  // namespace
