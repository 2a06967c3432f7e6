#pragma once
/// Grant table v1 (grant_table.h): the guest's table frames are placed with XENMEM_add_to_physmap
/// (XENMAPSPACE_grant_table) in kernel pages; a grant gives one domain access to one frame.
/// SMP-safe: the free list is under a spinlock, entries are published with the flags last.
#include "pv/xen_abi.h"

namespace pos::xen::grant {

inline constexpr unsigned kFrames = 2;   // 2 x 512 v1 entries

bool init(const char** reason);
/// Grants `domid` access to guest frame `gfn`; the reference, or -ENOSPC when all are in use.
long grant_access(domid_t domid, uint64_t gfn, bool readonly);
/// Revokes a grant; false (and the grant stays) while the other domain still has it mapped
/// (GTF_reading / GTF_writing set).
bool end_access(grant_ref_t ref);
unsigned free_count();

}  // namespace pos::xen::grant
