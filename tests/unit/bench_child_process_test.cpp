// bench/child_process.h run_once: host-side timestamps of console lines (linux_bench times the
// guest's dd from the host with them, independent of the guest's clock).
#include <gtest/gtest.h>

#include "../../bench/child_process.h"

namespace {

TEST(BenchRunOnce, StampsLinesByPrefixInHostTime) {
    // A line that only contains a prefix later in it, a split write and a prefix never printed.
    bench::RunResult r = bench::run_once(
        {"/bin/sh", "-c", "echo x GUEST-B; echo GUEST-A one; sleep 0.3; printf 'GUEST-'; sleep 0.1; echo 'B two'; echo end"},
        "end", 10.0, nullptr, false, {"GUEST-A", "GUEST-B", "GUEST-C"});
    ASSERT_EQ(r.status, 0);
    ASSERT_EQ(r.stamps.size(), 3u);
    EXPECT_GE(r.stamps[0], 0);
    // GUEST-B counts only at the start of a line, and only once the line is complete.
    EXPECT_GE(r.stamps[1] - r.stamps[0], 0.35);
    EXPECT_LT(r.stamps[1], r.marker_s + 1e-9);
    EXPECT_EQ(r.stamps[2], -1);
}

TEST(BenchRunOnce, NoStampsRequestedLeavesNone) {
    bench::RunResult r = bench::run_once({"/bin/sh", "-c", "echo GUEST-A"}, "GUEST-A", 10.0);
    EXPECT_TRUE(r.stamps.empty());
    EXPECT_GE(r.marker_s, 0);
}

}  // namespace
