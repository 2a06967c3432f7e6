#pragma once
/// Large private anonymous buffers (guest RAM, a kernel file read whole) at a 2 MiB-aligned
/// address with MADV_HUGEPAGE, so that the host can back them with transparent huge pages where
/// it allows them for madvise()d memory (Debian's default, "madvise"): one page fault per 2 MiB
/// instead of 512 when the memory is first touched. On a nested host a fault costs several
/// microseconds, and a Linux boot touches hundreds of MiB. Untouched pages stay unbacked;
/// where THP is off the memory is ordinary 4 KiB pages.
#include <cstddef>

#include "util/fd.h"
#include "util/result.h"

namespace popek {

/// `len` bytes (rounded up to 4 KiB), zero-filled on first touch. `what` names it in errors.
/// `dont_fork`: a child process never gets it (MADV_DONTFORK).
Result<UniqueMapping> map_huge_anonymous(size_t len, const char* what, bool dont_fork);

}  // namespace popek
