// The PV interface end to end with guests written against Xen's public headers
// (tests/guests/xen/): event channels, XenStore, PV console, timers and blocking, shutdown.
#include "xen_guest.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

class XenGuestsTest : public XenGuestTest {};

TEST_P(XenGuestsTest, EventChannelPingPong) {
    RUN_XEN(r, "xen_evtchn");
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("ping-pong.rounds                 got=200 want=200 PASS"));
    EXPECT_THAT(r.out, HasSubstr("unmask.redelivers                got=1 want=1 PASS"));
    EXPECT_THAT(r.out, HasSubstr("send.out-of-range                got=-22 want=-22 PASS"));
    for (const auto& line : lines_of(r.out))
        if (line.starts_with("ping-pong:")) std::cout << "[ measured ] " << engine() << ": " << line << "\n";
}

TEST_P(XenGuestsTest, StoreClient) {
    RUN_XEN(r, "xen_store");
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("store: name 'popek-guest'"));
    EXPECT_THAT(r.out, HasSubstr("watch.fires-on-change            PASS"));
    EXPECT_THAT(r.out, HasSubstr("tx.conflict.commit               got=-11 want=-11 PASS"));
    EXPECT_THAT(r.out, HasSubstr("perm.dom0-home-write             got=-13 want=-13 PASS"));
    EXPECT_THAT(r.out, HasSubstr("perm.give-away                   got=-1 want=-1 PASS"));
}

TEST_P(XenGuestsTest, ConsoleRingCarriesOutputAndStdin) {
    RUN_XEN(r, "xen_console", {}, "popek pv console\n");
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("pvcons: hello through the xencons ring\n"));
    EXPECT_THAT(r.out, HasSubstr("pvcons: guest read 'popek pv console'"));
    EXPECT_THAT(r.out, HasSubstr("pvcons: echo POPEK PV CONSOLE\n"));
    EXPECT_THAT(r.out, HasSubstr("pvcons: via console_io\n"));
    // The 5000-byte write (bigger than the 2 KiB ring) arrived whole and in order.
    std::string alphabet;
    for (int i = 0; i < 4999; ++i) alphabet += static_cast<char>('a' + i % 26);
    EXPECT_THAT(r.out, HasSubstr(alphabet + "\n"));
}

TEST_P(XenGuestsTest, TimerVirqWakesBlockedVcpu) {
    RUN_XEN(r, "xen_timer");
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("singleshot.fired                 got=1 want=1 PASS"));
    EXPECT_THAT(r.out, HasSubstr("stopped.not-fired                got=0 want=0 PASS"));
    EXPECT_THAT(r.out, HasSubstr("singleshot.past-future-flag      got=-62 want=-62 PASS"));
}

TEST_P(XenGuestsTest, ShutdownPoweroffExitsZero) {
    RUN_XEN(r, "xen_shutdown_poweroff");
    EXPECT_THAT(r.out, HasSubstr("shutdown: reason 0"));
    EXPECT_EQ(r.status, 0) << r.err;
}

TEST_P(XenGuestsTest, ShutdownCrashExitsNonZero) {
    RUN_XEN(r, "xen_shutdown_crash");
    EXPECT_THAT(r.out, HasSubstr("shutdown: reason 3"));
    EXPECT_NE(r.status, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_THAT(r.err, HasSubstr("crash"));
}

INSTANTIATE_FOR_ENGINES(XenGuestsTest);

}  // namespace
}  // namespace popek::test
