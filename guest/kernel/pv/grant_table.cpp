#include "pv/grant_table.h"

#include "common/string.h"
#include "lib/spinlock.h"
#include "pv/hypercall.h"

namespace pos::xen::grant {
namespace {

constexpr unsigned kEntries = kFrames * 4096 / sizeof(grant_entry_v1_t);
alignas(4096) grant_entry_v1_t g_entries[kEntries];
Spinlock g_lock;
uint16_t g_free[kEntries];   // stack of free references
unsigned g_free_count = 0;
bool g_ready = false;

}  // namespace

bool init(const char** reason) {
    for (unsigned i = 0; i < kFrames; ++i) {
        if (add_to_physmap(XENMAPSPACE_grant_table, i, &g_entries[i * 4096 / sizeof(grant_entry_v1_t)]) != 0) {
            *reason = "XENMEM_add_to_physmap(grant_table) failed";
            return false;
        }
    }
    memset(g_entries, 0, sizeof g_entries);
    // References below GNTTAB_NR_RESERVED_ENTRIES belong to the toolstack (grant_table.h).
    for (unsigned ref = kEntries; ref-- > GNTTAB_NR_RESERVED_ENTRIES;) g_free[g_free_count++] = static_cast<uint16_t>(ref);
    g_ready = true;
    return true;
}

long grant_access(domid_t domid, uint64_t gfn, bool readonly) {
    if (!g_ready || gfn > 0xffffffffu) return -kENOSPC;
    grant_ref_t ref;
    {
        LockGuard guard(g_lock);
        if (g_free_count == 0) return -kENOSPC;
        ref = g_free[--g_free_count];
    }
    grant_entry_v1_t& e = g_entries[ref];
    e.frame = static_cast<uint32_t>(gfn);
    e.domid = domid;
    // frame and domid must be visible before the flags that make the entry valid
    uint16_t flags = static_cast<uint16_t>(GTF_permit_access | (readonly ? GTF_readonly : 0));
    __atomic_store_n(&e.flags, flags, __ATOMIC_RELEASE);
    return ref;
}

bool end_access(grant_ref_t ref) {
    if (ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= kEntries) return false;
    uint16_t flags = __atomic_load_n(&g_entries[ref].flags, __ATOMIC_ACQUIRE);
    do {
        if ((flags & (GTF_reading | GTF_writing)) != 0) return false;
    } while (!__atomic_compare_exchange_n(&g_entries[ref].flags, &flags, 0, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    LockGuard guard(g_lock);
    g_free[g_free_count++] = static_cast<uint16_t>(ref);
    return true;
}

unsigned free_count() { return g_free_count; }

}  // namespace pos::xen::grant
