// vmm::xen_shutdown_*: what a --xen guest's SCHEDOP_shutdown reason means for popek's exit.
#include <gtest/gtest.h>

#include "pv/xen_abi.h"
#include "vmm/exit_status.h"
#include "vmm/xen_shutdown.h"

namespace popek::vmm {
namespace {

TEST(XenShutdown, PoweroffIsACleanExitEverythingElseAVmError) {
    EXPECT_EQ(xen_shutdown_exit_status(SHUTDOWN_poweroff), kExitOk);
    for (unsigned r : {unsigned{SHUTDOWN_reboot}, unsigned{SHUTDOWN_crash}, unsigned{SHUTDOWN_watchdog}})
        EXPECT_EQ(xen_shutdown_exit_status(r), kExitVmError) << r;
}

TEST(XenShutdown, ReasonNamesTheXenReason) {
    EXPECT_EQ(xen_shutdown_reason(SHUTDOWN_poweroff), "xen shutdown: poweroff");
    EXPECT_EQ(xen_shutdown_reason(SHUTDOWN_crash), "xen shutdown: crash");
    EXPECT_EQ(xen_shutdown_reason(SHUTDOWN_watchdog), "xen shutdown: watchdog");
    EXPECT_EQ(xen_shutdown_reason(1234), "xen shutdown: unknown");
}

}  // namespace
}  // namespace popek::vmm
