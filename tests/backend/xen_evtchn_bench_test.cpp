// The two-vCPU event channel benchmark guest (tests/guests/xen/xen_evtchn_bench.c, 50 rounds) end
// to end: vCPU 1 runs the guest's pv_ap_entry, a port moved there with EVTCHNOP_bind_vcpu wakes it
// in SCHEDOP_poll and by its pending bit, and both vCPUs complete every round trip. No timing.
#include <cstdio>

#include "xen_guest.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

class XenEvtchnBenchTest : public XenGuestTest {};

/// The "evtchn-bench mode=<mode> rounds=.. ap_rounds=.." line; {-1, -1} when missing.
std::pair<int, int> rounds_of(const std::string& out, const std::string& mode) {
    std::string key = "evtchn-bench mode=" + mode + " ";
    auto at = out.find(key);
    int vcpu0 = -1, vcpu1 = -1;
    if (at != std::string::npos) std::sscanf(out.c_str() + at + key.size(), "rounds=%d ap_rounds=%d", &vcpu0, &vcpu1);
    return {vcpu0, vcpu1};
}

TEST_P(XenEvtchnBenchTest, BothVcpusCompleteEveryRoundTrip) {
    RUN_XEN(r, "xen_evtchn_bench_small", {"--cpus", "2"});
    expect_all_passed(r);
    for (const char* mode : {"poll", "spin"}) {
        EXPECT_EQ(rounds_of(r.out, mode), std::make_pair(50, 50)) << mode << "\n" << r.out;
        EXPECT_THAT(r.out, ::testing::ContainsRegex(std::string(mode) + "\\.rounds\\.vcpu1 +got=50 want=50 PASS"));
    }
}

TEST_P(XenEvtchnBenchTest, OneVcpuCannotTakeThePort) {
    // Without a vCPU 1, bind_vcpu fails (-ENOENT) and the guest reports it instead of hanging.
    RUN_XEN(r, "xen_evtchn_bench_small", {"--cpus", "1"});
    EXPECT_THAT(r.out, HasSubstr("bind_vcpu                        got=-2 want=0 FAIL"));
    EXPECT_NE(r.status, 0);
}

INSTANTIATE_FOR_ENGINES(XenEvtchnBenchTest);

}  // namespace
}  // namespace popek::test
