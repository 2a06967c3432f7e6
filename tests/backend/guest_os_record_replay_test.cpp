// popek-os under `--xen` recorded and replayed (issue 15 part 2, docs/record-replay.md "Back
// ends"): a shell session typed by the test writes the blkif disk (`put /dev/xvda ...`) and reads
// it back, on interp and bt. The log holds the typed input, the disk's bytes the guest read and
// the Xen side's writes of guest RAM during the hypercalls; the two replays get no input and no
// disk (the image is changed, then removed) and must end as the recording did: the same console
// output (which the replay checks against the log's hash) and the same guest memory hash.
// The same for a secure-net exchange with `popek net-peer` over `--net dgram=`: the replays
// open no socket and no peer runs, the peer's frames come from the log (Frame events).
// And for `--share DIR` (popekfs as /share): the directory's answers are in the log (Share
// events, the file bytes as Dma events); the replays run with DIR emptied, then removed, and
// neither read nor write it (their vCPU thread is not even allowed openat2).
#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <regex>
#include <thread>

#include "guest_os_session.h"
#include "popek_process.h"
#include "pv/xen_abi.h"  // before fsif.h

#include "popek/pvabi/fsif.h"
#include "replay/rr_log.h"
#include "test_peer_key.h"

namespace popek::test::guest_os {
namespace {

std::string memory_hash(const std::string& text) {
    std::smatch m;
    if (std::regex_search(text, m, std::regex("guest memory blake2b ([0-9a-f]{64})"))) return m[1];
    return {};
}

class GuestOsRecordReplayTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override { SKIP_UNLESS_ENGINE_USABLE(GetParam().accel); }
    RunResult replay(const std::string& log, std::vector<std::string> devices) {
        std::vector<std::string> args{"run", "--accel", GetParam().accel, "--kernel", POPEK_OS_ELF, "--xen", "--replay", log};
        args.insert(args.end(), devices.begin(), devices.end());
        RunResult r = run_popek(args, {}, std::chrono::seconds(300));
        EXPECT_FALSE(r.timed_out) << r.out << r.err;
        std::erase(r.out, '\r');
        return r;
    }
    ScratchDir m_dir;
};

TEST_P(GuestOsRecordReplayTest, ADiskWriteSessionReplaysWithoutDiskOrInput) {
    std::string text;
    for (int i = 0; text.size() < 8 * 1024; ++i) text += "line " + std::to_string(i) + " of the disk\n";
    text.resize(8 * 1024);   // whole sectors
    text.back() = '\n';  // the prompt after `cat` starts a line of its own
    const std::string disk = m_dir.file("disk.img", text).string();
    const std::string log = (m_dir.path() / "os.rr").string();
    auto s = ConsoleSession::start(GetParam(), {"--disk", disk, "--record", log});
    ASSERT_TRUE(s->wait_for("$ ", std::chrono::seconds(120))) << s->output();
    EXPECT_EQ(s->run("put /dev/xvda written by popek-os"), "put: 20 bytes\n");
    const std::string expect = "written by popek-os\n" + text.substr(20, 60);   // a partial sector
    EXPECT_EQ(s->run("cat /dev/xvda", std::chrono::seconds(60)).substr(0, expect.size()), expect);
    s->send("exit\n");
    ASSERT_EQ(s->finish(std::chrono::seconds(60)), 0) << s->output();
    const std::string hash = memory_hash(s->output());
    ASSERT_EQ(hash.size(), 64u) << s->output();
    std::ifstream written(disk, std::ios::binary);
    const std::string after((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
    ASSERT_EQ(after.substr(0, 20), "written by popek-os\n");

    // Not the disk: first another image under its name, then none.
    m_dir.file("disk.img", std::string(text.size(), 'z'));
    std::string first;
    for (int i = 0; i < 2; ++i) {
        RunResult rep = replay(log, {"--disk", disk});
        EXPECT_EQ(rep.status, 0) << rep.out << rep.err;
        EXPECT_EQ(memory_hash(rep.err), hash) << rep.err;
        EXPECT_NE(rep.out.find("put: 20 bytes"), std::string::npos) << rep.out;
        EXPECT_NE(rep.out.find(expect), std::string::npos) << rep.out;
        if (i == 0) first = rep.out;
        else EXPECT_EQ(rep.out, first);
        fs::remove(disk);
    }

    // A Dma event changed: the sector the guest reads back is not what it was.
    auto reader = replay::LogReader::open_file(log);
    ASSERT_TRUE(reader) << reader.error().message;
    auto writer = replay::LogWriter::create(log + ".bad", reader->config());
    ASSERT_TRUE(writer);
    int changed = 0;
    for (;;) {
        auto e = reader->next();
        ASSERT_TRUE(e) << e.error().message;
        if (!*e) break;
        replay::Event ev = std::move(**e);
        if (ev.type == replay::EventType::Dma && changed == 0) {
            const std::string_view bytes(reinterpret_cast<const char*>(ev.bytes.data()), ev.bytes.size());
            // The sector as read back after the put (the typed command has the words too).
            if (auto at = bytes.find("popek-os\nine 1"); at != std::string_view::npos) ev.bytes[at] = 'P', ++changed;
        }
        writer->write(ev);
    }
    ASSERT_TRUE(writer->finish());
    ASSERT_EQ(changed, 1);
    RunResult bad = replay(log + ".bad", {"--disk", disk});
    EXPECT_EQ(bad.status, 4) << bad.out << bad.err;
    EXPECT_NE(bad.err.find("replay diverged at instruction"), std::string::npos) << bad.err;
}

TEST_P(GuestOsRecordReplayTest, ASecureNetExchangeReplaysWithoutTheNetwork) {
    const std::string vm_sock = (m_dir.path() / "vm.sock").string(), peer_sock = (m_dir.path() / "peer.sock").string();
    const std::vector<std::string> net{"--net", "dgram=" + vm_sock + "," + peer_sock};
    const std::string log = (m_dir.path() / "net.rr").string();
    std::vector<std::string> args = net;
    args.insert(args.end(), {"--record", log});
    auto s = ConsoleSession::start(GetParam(), args);
    ASSERT_TRUE(s->wait_for("$ ", std::chrono::seconds(120))) << s->output();
    ASSERT_NE(s->output().find("popek-os: net: netd started"), std::string::npos) << s->output();
    const fs::path key = m_dir.file("host.key", std::string(kTestPeerSecret) + "\n");
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    auto peer = std::async(std::launch::async, [&] {
        return run_popek({"net-peer", "--key", key.string(), "--peer", policy_key("alice"), "--dgram",
                          peer_sock + "," + vm_sock, "--timeout", "60", "--recv", "1"},
                         {}, std::chrono::seconds(90));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));   // the peer binds its socket
    EXPECT_EQ(s->run(std::string("send ") + kTestPeerPublic + " recorded over the wire", std::chrono::seconds(90)), "");
    RunResult got = peer.get();
    EXPECT_EQ(got.status, 0) << got.err;
    EXPECT_EQ(got.out, policy_key("alice").substr(0, 16) + ": recorded over the wire\n") << got.err;
    const std::string netstat = s->run("netstat");
    s->send("exit\n");
    ASSERT_EQ(s->finish(std::chrono::seconds(60)), 0) << s->output();
    const std::string hash = memory_hash(s->output());
    ASSERT_EQ(hash.size(), 64u) << s->output();

    auto reader = replay::LogReader::open_file(log);
    ASSERT_TRUE(reader) << reader.error().message;
    int frames = 0;
    for (;;) {
        auto e = reader->next();
        ASSERT_TRUE(e) << e.error().message;
        if (!*e) break;
        frames += (**e).type == replay::EventType::Frame;
    }
    EXPECT_GE(frames, 1);   // at least the peer's handshake answer
    fs::remove(vm_sock);
    std::string first;
    for (int i = 0; i < 2; ++i) {
        RunResult rep = replay(log, net);
        EXPECT_EQ(rep.status, 0) << rep.out << rep.err;
        EXPECT_EQ(memory_hash(rep.err), hash) << rep.err;
        EXPECT_NE(rep.out.find(netstat), std::string::npos) << rep.out;
        if (i == 0) first = rep.out;
        else EXPECT_EQ(rep.out, first);
    }
    EXPECT_FALSE(fs::exists(vm_sock));   // no socket was bound
}

TEST_P(GuestOsRecordReplayTest, AShareSessionReplaysWithoutTheDirectory) {
    const fs::path share = m_dir.path() / "share";
    fs::create_directories(share / "out");
    std::ofstream(share / "hello.txt") << "hello from the host\n";
    const std::string log = (m_dir.path() / "share.rr").string();
    auto s = ConsoleSession::start(GetParam(), {"--share", share.string(), "--record", log});
    ASSERT_TRUE(s->wait_for("$ ", std::chrono::seconds(120))) << s->output();
    const std::string ls = s->run("ls /share/");
    EXPECT_NE(ls.find("20 - /share/hello.txt\n"), std::string::npos) << ls;
    EXPECT_EQ(s->run("cat /share/hello.txt"), "hello from the host\n");
    EXPECT_EQ(s->run("put /share/out/note.txt written by popek-os"), "put: 20 bytes\n");
    EXPECT_EQ(s->run("cat /share/out/note.txt"), "written by popek-os\n");
    EXPECT_NE(s->run("cat /share/missing.txt").find("no such file"), std::string::npos);
    s->send("exit\n");
    ASSERT_EQ(s->finish(std::chrono::seconds(60)), 0) << s->output();
    const std::string hash = memory_hash(s->output());
    ASSERT_EQ(hash.size(), 64u) << s->output();
    std::ifstream note(share / "out" / "note.txt");
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(note)), std::istreambuf_iterator<char>()), "written by popek-os\n");

    // The directory emptied (the guest would see neither file), then gone.
    fs::remove_all(share);
    fs::create_directories(share);
    std::string first;
    for (int i = 0; i < 2; ++i) {
        RunResult rep = replay(log, {"--share", share.string()});
        EXPECT_EQ(rep.status, 0) << rep.out << rep.err;
        EXPECT_EQ(memory_hash(rep.err), hash) << rep.err;
        EXPECT_NE(rep.out.find("hello from the host\n"), std::string::npos) << rep.out;
        EXPECT_NE(rep.out.find("put: 20 bytes\n"), std::string::npos) << rep.out;
        EXPECT_NE(rep.out.find("written by popek-os\n"), std::string::npos) << rep.out;
        if (i == 0) {
            first = rep.out;
            EXPECT_TRUE(fs::is_empty(share));   // the put was not carried out again
            fs::remove(share);
        } else {
            EXPECT_EQ(rep.out, first);
            EXPECT_FALSE(fs::exists(share));
        }
    }

    // Each logged answer must be for the request the replay serves: the answer to the STAT of
    // hello.txt (in `ls`) given another request id diverges there. (The response's bytes the
    // guest sees are the ring's, in the Dma events, which the other tests tamper with.)
    auto reader = replay::LogReader::open_file(log);
    ASSERT_TRUE(reader) << reader.error().message;
    auto writer = replay::LogWriter::create(log + ".bad", reader->config());
    ASSERT_TRUE(writer);
    int shares = 0, changed = 0;
    for (;;) {
        auto e = reader->next();
        ASSERT_TRUE(e) << e.error().message;
        if (!*e) break;
        replay::Event ev = std::move(**e);
        if (ev.type == replay::EventType::Share) {
            ++shares;
            popekfs_response rsp{};
            ASSERT_EQ(ev.bytes.size(), sizeof rsp);
            std::memcpy(&rsp, ev.bytes.data(), sizeof rsp);
            if (changed == 0 && (rsp.op == POPEKFS_OP_STAT || rsp.op == POPEKFS_OP_FSTAT) && rsp.size == 20) {
                rsp.id += 1000;
                std::memcpy(ev.bytes.data(), &rsp, sizeof rsp);
                ++changed;
            }
        }
        writer->write(ev);
    }
    ASSERT_TRUE(writer->finish());
    EXPECT_GE(shares, 5);
    ASSERT_EQ(changed, 1);
    RunResult bad = replay(log + ".bad", {"--share", share.string()});
    EXPECT_EQ(bad.status, 4) << bad.out << bad.err;
    EXPECT_NE(bad.err.find("replay diverged at instruction"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("where the log answers request"), std::string::npos) << bad.err;
    // Without its Share events the replay diverges at the first request to the directory.
    auto full = replay::LogReader::open_file(log);
    ASSERT_TRUE(full) << full.error().message;
    auto dropped = replay::LogWriter::create(log + ".noshare", full->config());
    ASSERT_TRUE(dropped);
    for (;;) {
        auto e = full->next();
        ASSERT_TRUE(e) << e.error().message;
        if (!*e) break;
        if ((**e).type != replay::EventType::Share) dropped->write(**e);
    }
    ASSERT_TRUE(dropped->finish());
    RunResult none = replay(log + ".noshare", {"--share", share.string()});
    EXPECT_EQ(none.status, 4) << none.out << none.err;
    EXPECT_NE(none.err.find("replay diverged at instruction"), std::string::npos) << none.err;
    EXPECT_NE(none.err.find("a request to the host directory (--share)"), std::string::npos) << none.err;
}

INSTANTIATE_TEST_SUITE_P(Engines, GuestOsRecordReplayTest,
                         ::testing::Values(Platform{"interp", true}, Platform{"bt", true}), name_of);

}  // namespace
}  // namespace popek::test::guest_os
