#pragma once
/// What popek may gain by exec(2), limited for the whole process before its first thread
/// (issue 19 item 6, in part): PR_SET_NO_NEW_PRIVS (no setuid bit or file capability raises
/// privileges across exec) and, when popek may change it (CAP_SETPCAP, i.e. started as root), a
/// capability bounding set of only CAP_SETUID and CAP_SETGID: what the driver-domain child needs
/// to become nobody (ddom/sandbox.cpp). Both are inherited by every thread and child created
/// afterwards. The effective set is not touched here: popek's own set-up may still need it (a tap
/// device wants CAP_NET_ADMIN); each thread drops it, and the rest of the bounding set, once set
/// up (host/privilege_drop.h).
#include <cstdint>

#include "util/result.h"

namespace popek::host {

/// Capabilities left in the bounding set when popek can shrink it (bit numbers, capability.h).
inline constexpr uint64_t kKeptBoundingCaps = (uint64_t{1} << 6) | (uint64_t{1} << 7);  // CAP_SETGID, CAP_SETUID

/// Sets PR_SET_NO_NEW_PRIVS and shrinks the bounding set to kKeptBoundingCaps when allowed
/// (without CAP_SETPCAP it is left as it is). Call before any thread is started.
Result<void> limit_privilege_gain();

}  // namespace popek::host
