#include "host/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>

#include <cerrno>

namespace popek::host {

Result<void> limit_privilege_gain() {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_NO_NEW_PRIVS");
    // prctl(2) PR_CAPBSET_DROP: EPERM without CAP_SETPCAP (an unprivileged popek: nothing to
    // shrink that exec could raise anyway, with no_new_privs set); EINVAL past the kernel's last
    // capability, which ends the walk.
    for (unsigned long cap = 0; cap < 64; ++cap) {
        if (kKeptBoundingCaps & (uint64_t{1} << cap)) continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EPERM) return {};
        if (errno == EINVAL) break;
        return fail_errno("PR_CAPBSET_DROP {}", cap);
    }
    return {};
}

}  // namespace popek::host
