#pragma once
/// Loading a libseccomp allow-list on the calling thread: the one helper behind the driver
/// domain's sandbox (src/ddom/sandbox.cpp) and the VMM's per-thread filters (thread_confinement.h).
///
/// A filter loaded without SECCOMP_FILTER_FLAG_TSYNC confines the calling thread only, and every
/// thread it creates afterwards inherits it (seccomp(2), "SECCOMP_SET_MODE_FILTER").
#include <cstdint>
#include <span>

#include "util/result.h"

namespace popek::host {

/// One allowed system call; with `values` non-empty, only when argument `arg` (its low 32 bits,
/// as the kernel reads an ioctl request) equals one of them. With `refuse_errno` non-zero the call
/// is not allowed but fails with that errno instead of taking the default action (a call a library
/// makes on its own and copes with failing, e.g. glibc's probe of a /proc file).
struct SyscallRule {
    int nr;
    unsigned arg = 0;
    std::span<const uint64_t> values = {};
    int refuse_errno = 0;
};

/// Builds the filter (`default_action`, e.g. SCMP_ACT_KILL_PROCESS, for everything not listed)
/// and loads it on this thread. Rules with a negative number (a call this architecture lacks,
/// as libseccomp's SCMP_SYS gives) are skipped.
Result<void> load_allow_list(uint32_t default_action, std::span<const SyscallRule> rules);

}  // namespace popek::host
