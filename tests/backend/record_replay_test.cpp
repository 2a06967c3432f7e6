// Deterministic record and replay on the own engine (issue 15 part 2, docs/record-replay.md):
// the rr_timer guest (x2APIC timer interrupts sampled by a counting loop, RDTSC, RDRAND, HLT)
// recorded, then replayed twice on interp and on bt: the same serial output, exit status and
// guest memory hash; a log that was tampered with, truncated, or given to another VM is refused
// or diverges with a clear message. Back ends: the virtio_blk guest recorded with --disk and
// replayed with its disk changed and then gone (the log's Dma events hold what it read), a
// tampered Dma event diverges; the virtio_rng guest's random bytes replay as recorded. The smp
// guest on four vCPUs (serialized: emu/determinism.h) replays its interleaving.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include "popek_process.h"
#include "replay/rr_log.h"

namespace popek::test {
namespace {

namespace fs = std::filesystem;

class RecordReplayTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() / ("popek-rr-" + std::to_string(::getpid()) + "-" + GetParam());
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string log_path(const char* name = "run.rr") const { return (m_dir / name).string(); }
    RunResult run(const std::string& mode, const std::string& log, std::vector<std::string> extra = {},
                  const char* guest = "rr_timer") {
        std::vector<std::string> args{"run", "--accel", GetParam(), "--kernel", guest_elf(guest), mode, log};
        args.insert(args.end(), extra.begin(), extra.end());
        RunResult r = run_popek(args);
        EXPECT_FALSE(r.timed_out) << r.out << r.err;
        return r;
    }
    static std::string memory_hash(const RunResult& r) {
        std::smatch m;
        if (std::regex_search(r.err, m, std::regex("guest memory blake2b ([0-9a-f]{64})"))) return m[1];
        return {};
    }
    /// Rewrites `from` into `to` through the log reader and writer, dropping events `drop` says to.
    static void rewrite(const std::string& from, const std::string& to, auto drop) {   // drop may edit
        auto reader = replay::LogReader::open_file(from);
        ASSERT_TRUE(reader) << reader.error().message;
        auto writer = replay::LogWriter::create(to, reader->config());
        ASSERT_TRUE(writer) << writer.error().message;
        for (;;) {
            auto e = reader->next();
            ASSERT_TRUE(e) << e.error().message;
            if (!*e) break;
            replay::Event ev = std::move(**e);
            if (!drop(ev)) writer->write(ev);
        }
        ASSERT_TRUE(writer->finish());
    }
    /// The virtio_blk guest's disk: 8 sectors of 0x11, "POPEKVIO" at the start of sector 1.
    std::string make_disk(uint8_t fill = 0x11, bool marker = true) const {
        const std::string path = (m_dir / "disk.img").string();
        std::vector<uint8_t> image(8 * 512, fill);
        if (marker) std::memcpy(&image[512], "POPEKVIO", 8);
        std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(image.data()),
                                                                       static_cast<std::streamsize>(image.size()));
        return path;
    }
    /// Records the virtio_blk guest on a fresh disk; its memory hash.
    std::string record_disk_guest(const std::string& disk) {
        RunResult rec = run("--record", log_path(), {"--disk", disk}, "virtio_blk");
        EXPECT_EQ(rec.status, 1) << rec.out << rec.err;
        EXPECT_NE(rec.out.find("read: POPEKVIO"), std::string::npos) << rec.out;
        EXPECT_EQ(rec.out.find("FAIL"), std::string::npos) << rec.out;
        m_recorded_out = rec.out;
        return memory_hash(rec);
    }
    /// Copies the log, changing its events with `edit`.
    void edit_log(const std::string& from, const std::string& to, auto edit) {
        rewrite(from, to, [&](replay::Event& e) {
            edit(e);
            return false;
        });
    }
    std::string m_recorded_out;
    fs::path m_dir;
};

TEST_P(RecordReplayTest, ATimerGuestReplaysTwiceIdentically) {
    RunResult rec = run("--record", log_path());
    ASSERT_EQ(rec.status, 1) << rec.out << rec.err;   // debug-exit 0
    ASSERT_NE(rec.out.find("rr_timer: done"), std::string::npos) << rec.out;
    ASSERT_NE(rec.out.find("tick 23 counter="), std::string::npos) << rec.out;
    const std::string hash = memory_hash(rec);
    ASSERT_EQ(hash.size(), 64u) << rec.err;
    for (int i = 0; i < 2; ++i) {
        RunResult rep = run("--replay", log_path());
        EXPECT_EQ(rep.status, rec.status) << rep.err;
        EXPECT_EQ(rep.out, rec.out);
        EXPECT_EQ(memory_hash(rep), hash) << rep.err;
        EXPECT_NE(rep.err.find("replayed"), std::string::npos) << rep.err;
    }
}

TEST_P(RecordReplayTest, TwoRecordingsDifferButEachReplaysItsOwn) {
    // RDRAND values (and, on the host clock, the tick samples) differ from run to run: the
    // replay's sameness is the log's doing, not the guest's.
    RunResult a = run("--record", log_path("a.rr"));
    RunResult b = run("--record", log_path("b.rr"));
    ASSERT_EQ(a.status, 1) << a.err;
    ASSERT_EQ(b.status, 1) << b.err;
    EXPECT_NE(a.out, b.out);
    EXPECT_EQ(run("--replay", log_path("a.rr")).out, a.out);
    EXPECT_EQ(run("--replay", log_path("b.rr")).out, b.out);
}

TEST_P(RecordReplayTest, ALogWithoutItsRandomValuesDiverges) {
    RunResult rec = run("--record", log_path());
    ASSERT_EQ(rec.status, 1) << rec.err;
    rewrite(log_path(), log_path("cut.rr"), [](const replay::Event& e) { return e.type == replay::EventType::Random; });
    RunResult rep = run("--replay", log_path("cut.rr"));
    EXPECT_EQ(rep.status, 4) << rep.out << rep.err;
    EXPECT_NE(rep.err.find("replay diverged at instruction"), std::string::npos) << rep.err;
}

TEST_P(RecordReplayTest, AChangedDeviceReadDiverges) {
    RunResult rec = run("--record", log_path());
    ASSERT_EQ(rec.status, 1) << rec.err;
    // Flip the bits of the 50th device read (the RTC's seconds, folded into the printed value).
    int reads = 0;
    auto reader = replay::LogReader::open_file(log_path());
    ASSERT_TRUE(reader);
    auto writer = replay::LogWriter::create(log_path("flip.rr"), reader->config());
    ASSERT_TRUE(writer);
    for (;;) {
        auto e = reader->next();
        ASSERT_TRUE(e);
        if (!*e) break;
        replay::Event ev = std::move(**e);
        if (ev.type == replay::EventType::Read && ++reads == 50)
            for (auto& byte : ev.bytes) byte = static_cast<uint8_t>(~byte);
        writer->write(ev);
    }
    ASSERT_TRUE(writer->finish());
    ASSERT_GE(reads, 50);
    RunResult rep = run("--replay", log_path("flip.rr"));
    EXPECT_EQ(rep.status, 4) << rep.out << rep.err;
    EXPECT_NE(rep.err.find("replay diverged at instruction"), std::string::npos) << rep.err;
}

TEST_P(RecordReplayTest, ATruncatedOrForeignLogIsOneClearError) {
    RunResult rec = run("--record", log_path());
    ASSERT_EQ(rec.status, 1) << rec.err;
    const auto size = fs::file_size(log_path());
    fs::copy_file(log_path(), log_path("short.rr"));
    fs::resize_file(log_path("short.rr"), size / 2);
    RunResult cut = run("--replay", log_path("short.rr"));
    EXPECT_NE(cut.status, 0);
    EXPECT_NE(cut.status, 1);
    // Half the file ends inside an event or, by chance, between two: both are named.
    EXPECT_TRUE(cut.err.find("truncated") != std::string::npos || cut.err.find("cut short") != std::string::npos)
        << cut.err;

    std::ofstream(log_path("junk.rr")) << "this is not a log";
    RunResult junk = run("--replay", log_path("junk.rr"));
    EXPECT_EQ(junk.status, 2);
    EXPECT_NE(junk.err.find("not a popek record/replay log"), std::string::npos) << junk.err;
    EXPECT_EQ(std::count(junk.err.begin(), junk.err.end(), '\n'), 1) << junk.err;

    RunResult other = run("--replay", log_path(), {"--mem", "128"});
    EXPECT_EQ(other.status, 2);
    EXPECT_NE(other.err.find("recorded with `mem_mib=256`"), std::string::npos) << other.err;
}

TEST_P(RecordReplayTest, ADiskGuestReplaysWithoutItsDisk) {
    const std::string disk = make_disk();
    const std::string hash = record_disk_guest(disk);
    ASSERT_EQ(hash.size(), 64u);
    // What the guest wrote reached the disk while recording.
    std::ifstream written(disk, std::ios::binary);
    std::string sectors((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
    ASSERT_EQ(sectors.substr(1024, 8), "GUESTWR!");
    // The replays read nothing from the disk: first another image under its name, then none.
    make_disk(0x22, false);
    for (int i = 0; i < 2; ++i) {
        RunResult rep = run("--replay", log_path(), {"--disk", disk}, "virtio_blk");
        EXPECT_EQ(rep.status, 1) << rep.err;
        EXPECT_EQ(rep.out, m_recorded_out);
        EXPECT_EQ(memory_hash(rep), hash) << rep.err;
        fs::remove(disk);
    }
    EXPECT_FALSE(fs::exists(disk));   // nor was it created
    // The disk's size is in the log: a replay with another --disk is refused before it runs.
    RunResult other = run("--replay", log_path(), {"--disk", disk + ".other"}, "virtio_blk");
    EXPECT_EQ(other.status, 2) << other.err;
    EXPECT_NE(other.err.find("recorded with `disk0="), std::string::npos) << other.err;
}

TEST_P(RecordReplayTest, ATamperedDmaEventDiverges) {
    const std::string disk = make_disk();
    ASSERT_EQ(record_disk_guest(disk).size(), 64u);
    // The bytes the guest read from sector 1: the guest's check of them fails, it runs otherwise.
    int marked = 0;
    edit_log(log_path(), log_path("bytes.rr"), [&](replay::Event& e) {
        if (e.type != replay::EventType::Dma) return;
        auto at = std::search(e.bytes.begin(), e.bytes.end(), "POPEKVIO", "POPEKVIO" + 8);
        if (at != e.bytes.end()) *at = 'X', ++marked;
    });
    ASSERT_EQ(marked, 1);
    RunResult bytes = run("--replay", log_path("bytes.rr"), {"--disk", disk}, "virtio_blk");
    EXPECT_EQ(bytes.status, 4) << bytes.out << bytes.err;
    EXPECT_NE(bytes.err.find("replay diverged at instruction"), std::string::npos) << bytes.err;
    // Another place: the replay's device wrote elsewhere.
    int moved = 0;
    edit_log(log_path(), log_path("gpa.rr"), [&](replay::Event& e) {
        if (e.type == replay::EventType::Dma && moved++ == 0) e.gpa += 0x1000;
    });
    RunResult gpa = run("--replay", log_path("gpa.rr"), {"--disk", disk}, "virtio_blk");
    EXPECT_EQ(gpa.status, 4) << gpa.err;
    EXPECT_NE(gpa.err.find("a back end wrote"), std::string::npos) << gpa.err;
    // None at all.
    rewrite(log_path(), log_path("none.rr"), [](const replay::Event& e) { return e.type == replay::EventType::Dma; });
    RunResult none = run("--replay", log_path("none.rr"), {"--disk", disk}, "virtio_blk");
    EXPECT_EQ(none.status, 4) << none.err;
    EXPECT_NE(none.err.find("replay diverged at instruction"), std::string::npos) << none.err;
}

TEST_P(RecordReplayTest, AnEntropyGuestReplaysItsRandomBytes) {
    RunResult a = run("--record", log_path("a.rr"), {"--rng"}, "virtio_rng");
    RunResult b = run("--record", log_path("b.rr"), {"--rng"}, "virtio_rng");
    ASSERT_EQ(a.status, 1) << a.out << a.err;
    ASSERT_EQ(b.status, 1) << b.out << b.err;
    ASSERT_NE(a.out.find("random: "), std::string::npos) << a.out;
    EXPECT_NE(a.out, b.out);   // the host's random bytes
    for (int i = 0; i < 2; ++i) {
        RunResult rep = run("--replay", log_path("a.rr"), {"--rng"}, "virtio_rng");
        EXPECT_EQ(rep.status, 1) << rep.err;
        EXPECT_EQ(rep.out, a.out);
        EXPECT_EQ(memory_hash(rep), memory_hash(a)) << rep.err;
    }
    EXPECT_EQ(run("--replay", log_path("b.rr"), {"--rng"}, "virtio_rng").out, b.out);
    RunResult no_rng = run("--replay", log_path("a.rr"), {}, "virtio_rng");
    EXPECT_EQ(no_rng.status, 2) << no_rng.err;
}

TEST_P(RecordReplayTest, AnSmpGuestReplaysItsInterleaving) {
    // Four vCPUs take a spinlock in turn and print under it: which one prints when is the
    // interleaving, which the serialized schedule (emu/determinism.h) makes a function of the
    // instruction streams. The recording and both replays print the same lines in the same order.
    RunResult rec = run("--record", log_path(), {"--cpus", "4"}, "smp");
    ASSERT_EQ(rec.status, 1) << rec.out << rec.err;   // no problems found
    ASSERT_NE(rec.out.find("all 4 vCPUs reported, problems: 0"), std::string::npos) << rec.out;
    for (int cpu = 0; cpu < 4; ++cpu) EXPECT_NE(rec.out.find("cpu " + std::to_string(cpu) + " of 4\n"), std::string::npos) << rec.out;
    const std::string hash = memory_hash(rec);
    ASSERT_EQ(hash.size(), 64u) << rec.err;
    for (int i = 0; i < 2; ++i) {
        RunResult rep = run("--replay", log_path(), {"--cpus", "4"}, "smp");
        EXPECT_EQ(rep.status, rec.status) << rep.err;
        EXPECT_EQ(rep.out, rec.out);
        EXPECT_EQ(memory_hash(rep), hash) << rep.err;
    }
    // Another vCPU count is another VM.
    RunResult two = run("--replay", log_path(), {"--cpus", "2"}, "smp");
    EXPECT_EQ(two.status, 2) << two.err;
    EXPECT_NE(two.err.find("cpus=4"), std::string::npos) << two.err;
    // A tampered exit checkpoint (a vCPU's registers at one of its port writes) diverges.
    int seen = 0;
    edit_log(log_path(), log_path("bad.rr"), [&](replay::Event& e) {
        if (e.type == replay::EventType::Exit && ++seen == 40) e.checksum ^= 1;
    });
    ASSERT_GE(seen, 40);
    RunResult bad = run("--replay", log_path("bad.rr"), {"--cpus", "4"}, "smp");
    EXPECT_EQ(bad.status, 4) << bad.out << bad.err;
    EXPECT_NE(bad.err.find("replay diverged at instruction"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("the registers differ"), std::string::npos) << bad.err;
}

INSTANTIATE_TEST_SUITE_P(Engines, RecordReplayTest, ::testing::Values("interp", "bt"),
                         ::popek::test::engine_name);

TEST(RecordReplay, UnsupportedSetupsAreRefused) {
    RunResult smp = run_popek({"run", "--accel", "interp", "--xen", "--cpus", "2", "--kernel", guest_elf("rr_timer"), "--record", "/tmp/x.rr"});
    EXPECT_EQ(smp.status, 2);
    EXPECT_NE(smp.err.find("with --xen supports one vCPU only"), std::string::npos) << smp.err;
    RunResult kvm = run_popek({"run", "--accel", "kvm", "--kernel", guest_elf("rr_timer"), "--replay", "/tmp/x.rr"});
    EXPECT_EQ(kvm.status, 2);
    EXPECT_NE(kvm.err.find("needs the own engine"), std::string::npos) << kvm.err;
    RunResult both = run_popek({"run", "--record", "/tmp/a.rr", "--replay", "/tmp/b.rr"});
    EXPECT_EQ(both.status, 2);
}

}  // namespace
}  // namespace popek::test
