// popek-os under `--xen` recorded and replayed (issue 15 part 2, docs/record-replay.md "Back
// ends"): a shell session typed by the test writes the blkif disk (`put /dev/xvda ...`) and reads
// it back, on interp and bt. The log holds the typed input, the disk's bytes the guest read and
// the Xen side's writes of guest RAM during the hypercalls; the two replays get no input and no
// disk (the image is changed, then removed) and must end as the recording did: the same console
// output (which the replay checks against the log's hash) and the same guest memory hash.
#include <gtest/gtest.h>

#include <regex>

#include "guest_os_session.h"
#include "popek_process.h"
#include "replay/rr_log.h"

namespace popek::test {
namespace {

std::string memory_hash(const std::string& text) {
    std::smatch m;
    if (std::regex_search(text, m, std::regex("guest memory blake2b ([0-9a-f]{64})"))) return m[1];
    return {};
}

class GuestOsRecordReplayTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override { SKIP_UNLESS_ENGINE_USABLE(GetParam().accel); }
    RunResult replay(const std::string& log, const std::string& disk) {
        RunResult r = run_popek({"run", "--accel", GetParam().accel, "--kernel", POPEK_OS_ELF, "--xen", "--disk", disk,
                                 "--replay", log},
                                {}, std::chrono::seconds(300));
        EXPECT_FALSE(r.timed_out) << r.out << r.err;
        std::erase(r.out, '\r');
        return r;
    }
    ScratchDir m_dir;
};

TEST_P(GuestOsRecordReplayTest, ADiskWriteSessionReplaysWithoutDiskOrInput) {
    std::string text;
    for (int i = 0; text.size() < 8 * 1024; ++i) text += "line " + std::to_string(i) + " of the disk\n";
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
        RunResult rep = replay(log, disk);
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
    RunResult bad = replay(log + ".bad", disk);
    EXPECT_EQ(bad.status, 4) << bad.out << bad.err;
    EXPECT_NE(bad.err.find("replay diverged at instruction"), std::string::npos) << bad.err;
}

INSTANTIATE_TEST_SUITE_P(Engines, GuestOsRecordReplayTest,
                         ::testing::Values(Platform{"interp", true}, Platform{"bt", true}),
                         [](const auto& info) { return platform_name(info.param); });

}  // namespace
}  // namespace popek::test
