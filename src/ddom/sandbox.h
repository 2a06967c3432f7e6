#pragma once
/// Confinement of a driver domain process, applied after it has every descriptor it needs:
/// root drops to nobody (uid/gid 65534, no supplementary groups); PR_SET_NO_NEW_PRIVS; a libseccomp
/// allow-list of the system calls the back end's loop makes (socket datagrams, positioned disk I/O,
/// fdatasync, fallocate, poll, memory for its heap, exit). Anything else kills the process.
#include "util/result.h"

namespace popek::ddom {

inline constexpr unsigned kNobody = 65534;

/// Closes every descriptor above `keep_max` (the child keeps 0..keep_max).
Result<void> close_other_fds(int keep_max);
Result<void> drop_privileges();
Result<void> install_seccomp();

}  // namespace popek::ddom
