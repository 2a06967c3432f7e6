// Reverse execution's bookkeeping (src/replay/history.h, src/gdb/reverse.h, docs/debugging.md
// "Reverse debugging"): which instruction counts hold a snapshot and how the ring stays bounded,
// which snapshot a seek starts from, which hit reverse-continue goes back to, the log reader's
// rewind, and the serial output a rewound replay does not show twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gdb/reverse.h"
#include "replay/history.h"
#include "replay/rr_log.h"
#include "replay/session.h"

namespace popek::replay {
namespace {

TEST(SnapshotSchedule, FirstIsAlwaysDueThenEveryInterval) {
    SnapshotSchedule s(1000, 8);
    EXPECT_TRUE(s.due(0));
    EXPECT_TRUE(s.add(0).empty());
    EXPECT_FALSE(s.due(0));     // the same count twice: a re-execution passing again
    EXPECT_FALSE(s.due(999));
    EXPECT_TRUE(s.due(1000));
    EXPECT_TRUE(s.add(1024).empty());
    EXPECT_FALSE(s.due(2023));
    EXPECT_TRUE(s.due(2024));
    EXPECT_FALSE(s.due(500));   // behind the newest (after a rewind): nothing new
}

TEST(SnapshotSchedule, ThinsOutKeepingTheFirstAndTheNewestAndDoublesTheInterval) {
    SnapshotSchedule s(100, 4);
    for (uint64_t c : {0, 100, 200, 300}) EXPECT_TRUE(s.add(c).empty());
    std::vector<size_t> drop = s.add(400);   // 5 > 4
    EXPECT_EQ(drop, (std::vector<size_t>{3, 1}));
    EXPECT_EQ(s.counts(), (std::vector<uint64_t>{0, 200, 400}));
    EXPECT_EQ(s.interval(), 200u);
    EXPECT_FALSE(s.due(500));
    EXPECT_TRUE(s.due(600));
    // However long the run, never more than the bound, and the start stays.
    uint64_t c = 400;
    for (int k = 0; k < 60; ++k) {   // (the interval doubles about every other one)
        c += s.interval();
        ASSERT_TRUE(s.due(c));
        s.add(c);
        ASSERT_LE(s.counts().size(), 4u);
        ASSERT_EQ(s.counts().front(), 0u);
        ASSERT_EQ(s.counts().back(), c);
        ASSERT_TRUE(std::is_sorted(s.counts().begin(), s.counts().end()));
    }
}

TEST(SnapshotSchedule, SeekStartsFromTheLatestSnapshotAtOrBefore) {
    SnapshotSchedule s(10, 16);
    for (uint64_t c : {0, 10, 25, 40}) s.add(c);
    EXPECT_EQ(s.at_or_before(0), 0u);
    EXPECT_EQ(s.at_or_before(9), 0u);
    EXPECT_EQ(s.at_or_before(10), 1u);
    EXPECT_EQ(s.at_or_before(24), 1u);
    EXPECT_EQ(s.at_or_before(25), 2u);
    EXPECT_EQ(s.at_or_before(1u << 30), 3u);
    SnapshotSchedule late(10, 16);
    late.add(5);
    EXPECT_FALSE(late.at_or_before(4).has_value());
}

TEST(ReverseContinue, GoesBackToTheLastHitBeforeNow) {
    using gdb::Hit;
    // Breakpoints stop before their instruction (their count), watchpoints before the
    // instruction that made the access (count - 1).
    const Hit bp{100, 1, 0, 0}, watch{151, 3, 0x2000, 2}, bp_now{200, 1, 0, 0};
    EXPECT_EQ(gdb::reverse_target(bp), 100u);
    EXPECT_EQ(gdb::reverse_target(watch), 150u);
    EXPECT_EQ(gdb::last_hit_before({bp, watch, bp_now}, 200)->count, 151u);
    // Standing at a breakpoint: it is not behind us.
    EXPECT_EQ(gdb::last_hit_before({bp, bp_now}, 200)->count, 100u);
    // Standing right after a watched write: going back undoes it.
    EXPECT_EQ(gdb::last_hit_before({bp, watch}, 151)->count, 151u);
    EXPECT_EQ(gdb::last_hit_before({bp, watch}, 150)->count, 100u);
    EXPECT_FALSE(gdb::last_hit_before({bp}, 100).has_value());
    EXPECT_FALSE(gdb::last_hit_before({}, 1000).has_value());
    // The same instruction hit twice (a loop): the later one in execution order.
    const Hit again{100, 1, 0, 0};
    auto h = gdb::last_hit_before({bp, watch, again}, 120);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->count, 100u);
}

class RewindTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_path = (std::filesystem::temp_directory_path() / ("popek-rr-history-" + std::to_string(::getpid()))).string();
    }
    void TearDown() override { std::filesystem::remove(m_path); }
    std::string m_path;
};

TEST_F(RewindTest, TheLogReaderGoesBackToASavedPosition) {
    {
        auto w = LogWriter::create(m_path, "cfg\n");
        ASSERT_TRUE(w);
        for (uint64_t i = 0; i < 3; ++i) {
            Event e;
            e.type = EventType::Random;
            e.icount = 10 * i;
            e.bytes = {static_cast<uint8_t>(i)};
            e.delivered = true;
            w->write(e);
        }
        Event end;
        end.type = EventType::End;
        w->write(end);
        ASSERT_TRUE(w->finish());
    }
    auto r = LogReader::open_file(m_path);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->next());
    const size_t at = r->offset();
    auto second = r->next();
    ASSERT_TRUE(second && *second);
    EXPECT_EQ((*second)->icount, 10u);
    while (true) {
        auto e = r->next();
        ASSERT_TRUE(e);
        if (!*e) break;
    }
    EXPECT_TRUE(r->ended());
    r->seek(at, false);
    EXPECT_FALSE(r->ended());
    auto again = r->next();
    ASSERT_TRUE(again && *again);
    EXPECT_EQ((*again)->icount, 10u);
    EXPECT_EQ((*again)->bytes, std::vector<uint8_t>{1});
}

TEST_F(RewindTest, ARewoundSessionShowsEachSerialByteOnceAndHashesItsOwnRun) {
    auto s = Session::record(m_path, "cfg\n");
    ASSERT_TRUE(s);
    auto bytes = [](const char* t) { return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(t), std::strlen(t)); };
    auto text = [](std::span<const uint8_t> b) { return std::string(b.begin(), b.end()); };
    EXPECT_EQ(text((*s)->note_serial(bytes("hello "))), "hello ");
    const Session::State mark = (*s)->save_state();
    EXPECT_EQ(text((*s)->note_serial(bytes("wor"))), "wor");
    const Session::State later = (*s)->save_state();
    (*s)->restore_state(mark);   // reverse execution went back
    EXPECT_EQ(text((*s)->note_serial(bytes("wo"))), "");        // shown already
    EXPECT_EQ(text((*s)->note_serial(bytes("rld\n"))), "ld\n");  // the rest is new
    // The hash is the rewound run's: the same as a run that never went back.
    (*s)->restore_state(later);
    (*s)->note_serial(bytes("ld\n"));
    const Session::State a = (*s)->save_state();
    auto straight = Session::record(m_path + ".2", "cfg\n");
    ASSERT_TRUE(straight);
    (*straight)->note_serial(bytes("hello world\n"));
    const Session::State b = (*straight)->save_state();
    std::filesystem::remove(m_path + ".2");
    uint8_t ha[32], hb[32];
    crypto_generichash_state sa = a.serial_hash, sb = b.serial_hash;
    crypto_generichash_final(&sa, ha, sizeof ha);
    crypto_generichash_final(&sb, hb, sizeof hb);
    EXPECT_EQ(std::memcmp(ha, hb, 32), 0);
    EXPECT_EQ(a.serial_bytes, b.serial_bytes);
}

}  // namespace
}  // namespace popek::replay
