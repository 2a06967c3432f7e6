#include "host/privilege_drop.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace popek::host {
namespace {

std::atomic<bool> g_enabled{false};
PrivilegeDrop g_drop;   ///< written once by enable_privilege_drop(), before any thread reads it
std::once_flag g_chroot_once;

/// capget/capset (capabilities(7)) on the calling thread: pid 0, the 64-bit (version 3) layout.
struct CapSets {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

Result<uint64_t> effective_caps() {
    CapSets caps;
    if (::syscall(SYS_capget, &caps.header, caps.data) != 0) return fail_errno("capget");
    return uint64_t{caps.data[0].effective} | (uint64_t{caps.data[1].effective} << 32);
}

/// Empties this thread's bounding set when it may (CAP_SETPCAP); without it there is nothing
/// exec could raise anyway (no_new_privs is set at start, host/privileges.h).
Result<void> drop_bounding_set() {
    for (unsigned long cap = 0; cap < 64; ++cap) {
        const int held = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (held < 0) break;     // EINVAL: past the kernel's last capability
        if (held == 0) continue; // already dropped
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EPERM) return {};
        return fail_errno("PR_CAPBSET_DROP {}", cap);
    }
    return {};
}

/// This thread only: the raw system calls, not glibc's process-wide wrappers (see the header).
Result<void> change_credentials(const PrivilegeDrop& drop) {
    if (drop.gid) {
        if (::syscall(SYS_setgroups, 0, nullptr) != 0) return fail_errno("setgroups");
        if (::syscall(SYS_setresgid, *drop.gid, *drop.gid, *drop.gid) != 0) return fail_errno("setresgid {}", *drop.gid);
    }
    if (drop.uid) {
        if (::syscall(SYS_setresuid, *drop.uid, *drop.uid, *drop.uid) != 0) return fail_errno("setresuid {}", *drop.uid);
    }
    return {};
}

}  // namespace

Result<void> check_privilege_drop(const PrivilegeDrop& drop) {
    if (drop.uid.has_value() != drop.gid.has_value())
        return fail("{} needs {} (popek drops to both or neither)", drop.uid ? "--uid" : "--gid", drop.uid ? "--gid" : "--uid");
    if ((drop.uid || !drop.chroot_dir.empty()) && ::geteuid() != 0)
        return fail("--uid, --gid and --chroot need popek started as root (it is uid {})", ::geteuid());
    if (drop.chroot_dir.empty()) return {};
    struct stat st {};
    if (::stat(drop.chroot_dir.c_str(), &st) != 0) return fail_errno("--chroot {}", drop.chroot_dir);
    if (!S_ISDIR(st.st_mode)) return fail("--chroot {}: not a directory", drop.chroot_dir);
    // These resolve a path again once the VM runs, which would then be inside the jail.
    if (drop.api_sock) return fail("--chroot cannot be combined with --api-sock yet (its paths are used after set-up)");
    if (drop.gdb_unix) return fail("--chroot cannot be combined with --gdb unix:PATH (the socket is removed by path at exit)");
    if (drop.net_dgram) return fail("--chroot cannot be combined with --net dgram= (each frame is sent to REMOTE by path)");
    return {};
}

void enable_privilege_drop(PrivilegeDrop drop) {
    g_drop = std::move(drop);
    g_enabled = true;
}

bool privilege_drop_enabled() { return g_enabled.load(); }

Result<void> enter_chroot() {
    if (!g_enabled.load() || g_drop.chroot_dir.empty()) return {};
    Result<void> result;
    std::call_once(g_chroot_once, [&result] {
        if (::chroot(g_drop.chroot_dir.c_str()) != 0) result = fail_errno("chroot {}", g_drop.chroot_dir);
        else if (::chdir("/") != 0) result = fail_errno("chdir / in the chroot");
    });
    return result;
}

Result<void> drop_thread_privileges() {
    if (!g_enabled.load()) return {};
    TRY_VOID(drop_bounding_set());
    TRY_VOID(change_credentials(g_drop));
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail_errno("PR_CAP_AMBIENT_CLEAR_ALL");
    CapSets none;   // lowering every set needs no capability
    if (::syscall(SYS_capset, &none.header, none.data) != 0) return fail_errno("capset (drop every capability)");
    if (TRY(effective_caps()) != 0) return fail("capabilities still effective after capset");
    if (g_drop.uid && *g_drop.uid != 0 && ::syscall(SYS_setresuid, 0, 0, 0) == 0)
        return fail("this thread could become root again after dropping to uid {}", *g_drop.uid);
    return {};
}

}  // namespace popek::host
