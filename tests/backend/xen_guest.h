#pragma once
/// Backend-test helper for the PV guests of tests/guests/xen/ (freestanding C, run with --xen).
/// Each guest prints one "name got=.. want=.. PASS|FAIL" row per check, then "failures: N", and
/// shuts its domain down: poweroff (popek exits 0) when all passed, crash (non-zero) otherwise.
#include <gmock/gmock.h>

#include "popek_process.h"

namespace popek::test {

class XenGuestTest : public EngineTest {
protected:
    /// Runs `guest` with --xen on this engine. Skips when the engine is unusable, and on the
    /// interpreter while it shows no Xen personality yet (the guest prints "no Xen signature").
    RunResult run_xen(std::string_view guest, std::vector<std::string> extra = {}, std::string_view input = {}) {
        extra.insert(extra.begin(), "--xen");
        RunResult r = run_guest(guest, extra, input);
        if (IsSkipped()) return r;
        if (engine() == "interp" && r.out.find("pv: no Xen signature") != std::string::npos)
            [&] { GTEST_SKIP() << "--accel interp has no Xen personality yet: " << r.out.substr(0, r.out.find('\n')); }();
        return r;
    }

    /// The guest's own verdict: every check passed and it powered off.
    static void expect_all_passed(const RunResult& r) {
        EXPECT_THAT(r.out, ::testing::HasSubstr("failures: 0")) << r.out << r.err;
        EXPECT_THAT(r.out, ::testing::Not(::testing::HasSubstr(" FAIL"))) << r.out;
        EXPECT_EQ(r.status, 0) << r.err;
    }
};

}  // namespace popek::test

#define RUN_XEN(var, ...)                   \
    auto var = run_xen(__VA_ARGS__);        \
    if (::testing::Test::IsSkipped()) return
