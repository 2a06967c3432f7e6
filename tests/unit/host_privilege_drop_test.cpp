// host/privilege_drop.h (issue 19 item 6): the checks on --uid/--gid/--chroot, and the drop itself
// in a forked child (it cannot be undone), which reports what it holds afterwards through its
// exit status: a bit per thing that is still there.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "host/privilege_drop.h"

namespace {

using popek::host::PrivilegeDrop;

PrivilegeDrop ids(std::optional<uint32_t> uid, std::optional<uint32_t> gid) {
    PrivilegeDrop d;
    d.uid = uid;
    d.gid = gid;
    return d;
}

/// --chroot DIR, with the options that resolve a path after set-up as given.
PrivilegeDrop jail(std::string dir, bool api_sock = false, bool gdb_unix = false, bool net_dgram = false) {
    PrivilegeDrop d;
    d.chroot_dir = std::move(dir);
    d.api_sock = api_sock;
    d.gdb_unix = gdb_unix;
    d.net_dgram = net_dgram;
    return d;
}

TEST(PrivilegeDrop, RequestsThatCannotBeHonouredAreErrors) {
    auto message = [](const PrivilegeDrop& d) {
        auto r = popek::host::check_privilege_drop(d);
        return r ? std::string() : r.error().message;
    };
    EXPECT_EQ(message({}), "");
    EXPECT_EQ(message(ids(1, {})), "--uid needs --gid (popek drops to both or neither)");
    EXPECT_EQ(message(ids({}, 1)), "--gid needs --uid (popek drops to both or neither)");
    if (::geteuid() != 0) {
        EXPECT_NE(message(ids(1, 1)).find("need popek started as root"), std::string::npos);
        return;
    }
    EXPECT_EQ(message(ids(1, 1)), "");
    EXPECT_NE(message(jail("/nonexistent-popek-jail")).find("No such file"), std::string::npos);
    EXPECT_EQ(message(jail("/proc/self/exe")), "--chroot /proc/self/exe: not a directory");
    EXPECT_NE(message(jail("/", true)).find("--api-sock"), std::string::npos);
    EXPECT_NE(message(jail("/", false, true)).find("--gdb unix:PATH"), std::string::npos);
    EXPECT_NE(message(jail("/", false, false, true)).find("--net dgram="), std::string::npos);
    EXPECT_EQ(message(jail("/")), "");
}

/// Bits of what the calling thread still holds.
enum Held : int { kEffective = 1, kPermitted = 2, kBounding = 4, kRootUid = 8, kRootGid = 16, kFailed = 32 };

int what_this_thread_holds() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0) return kFailed;
    int held = 0;
    if (data[0].effective | data[1].effective) held |= kEffective;
    if (data[0].permitted | data[1].permitted) held |= kPermitted;
    for (unsigned long cap = 0; cap <= CAP_LAST_CAP; ++cap)
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) held |= kBounding;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    ::syscall(SYS_getresuid, &ruid, &euid, &suid);
    ::syscall(SYS_getresgid, &rgid, &egid, &sgid);
    if (ruid == 0 || euid == 0 || suid == 0) held |= kRootUid;
    if (rgid == 0 || egid == 0 || sgid == 0) held |= kRootGid;
    return held;
}

/// Forks; the child enables `drop` and drops on a new thread (as popek's threads do), and exits
/// with what that thread holds then (kFailed when the drop failed).
int held_after_drop(PrivilegeDrop drop) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        popek::host::enable_privilege_drop(std::move(drop));
        int held = kFailed;
        std::thread([&held] { held = popek::host::drop_thread_privileges() ? what_this_thread_holds() : kFailed; }).join();
        ::_exit(held);
    }
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : kFailed;
}

TEST(PrivilegeDrop, AThreadKeepsNoCapabilityAndWithUidNoRoot) {
    if (::geteuid() != 0) GTEST_SKIP() << "not root: nothing to drop";
    ASSERT_EQ(what_this_thread_holds() & (kEffective | kRootUid), kEffective | kRootUid) << "the test starts privileged";
    EXPECT_EQ(held_after_drop({}), kRootUid | kRootGid) << "capabilities gone, uid and gid stay 0";
    EXPECT_EQ(held_after_drop(ids(65534, 65534)), 0);
}

TEST(PrivilegeDrop, NotEnabledDropsNothing) {
    // In-process users (these tests, gtest binaries building VMs) never enable it.
    EXPECT_TRUE(popek::host::drop_thread_privileges());
    EXPECT_TRUE(popek::host::enter_chroot());
    if (::geteuid() == 0) {
        EXPECT_NE(what_this_thread_holds() & kEffective, 0);
    }
}

}  // namespace
