// Hostile PV guests (issue 6 item 8) end to end: each abuse gets an error the guest can see, popek
// keeps serving the guest afterwards and ends the run cleanly (the guest's poweroff).
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "xen_guest.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

class XenHostileTest : public XenGuestTest {};

TEST_P(XenHostileTest, BadHypercallsStoreAbuseAndExhaustion) {
    RUN_XEN(r, "xen_hostile");
    expect_all_passed(r);
    for (const char* row : {"efault.hvm_op-unmapped           got=-14 want=-14 PASS",
                            "efault.evtchn-noncanonical       got=-14 want=-14 PASS",
                            "evtchn.exhausted                 got=-28 want=-28 PASS",
                            "wire.oversized-is-E2BIG          PASS",
                            "wire.in-step-after               got=0 want=0 PASS",
                            "wire.no-terminator               got=-22 want=-22 PASS",
                            "flood.watch-quota                got=-7 want=-7 PASS",
                            "flood.all-replies-in-order       got=25 want=25 PASS",
                            "ring.error-ringidx               got=2 want=2 PASS",
                            "enoent.upcall-vector-vcpu        got=-2 want=-2 PASS",
                            "einval.grant-frame-on-lapic      got=-22 want=-22 PASS",
                            "physmap.grant-frame-outside-ram  got=0 want=0 PASS",
                            "physmap.frame-reads-back         PASS",
                            "still-alive.after-ring           got=4 want=4 PASS"})
        EXPECT_THAT(r.out, HasSubstr(row));
}

TEST_P(XenHostileTest, CorruptBlkifRingIsShutAndTheDeviceReconnects) {
    char name[] = "/tmp/popek-xen-hostile-XXXXXX";
    int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "intact", 7, 0), 7);
    ASSERT_EQ(::ftruncate(fd, 64 * 1024), 0);
    ::close(fd);
    RunResult r = run_xen("xen_hostile_blkif", {"--disk", name});
    ::unlink(name);
    if (IsSkipped()) return;
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("backend.closing                  got=5 want=5 PASS"));
    EXPECT_THAT(r.out, HasSubstr("hostile-blkif: backend error 'blkif ring indices out of range: ring shut'"));
    EXPECT_THAT(r.out, HasSubstr("hostile-blkif: sector 0 says 'intact'"));
}

INSTANTIATE_FOR_ENGINES(XenHostileTest);

}  // namespace
}  // namespace popek::test
