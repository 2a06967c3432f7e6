/* pv_grant.h - a v1 grant table in one frame of the guest image (grant_table.h): placed with
 * XENMEM_add_to_physmap(XENMAPSPACE_grant_table, 0, gpfn), entries handed out from the first
 * non-reserved reference (GNTTAB_NR_RESERVED_ENTRIES). */
#pragma once
#include "pv_rt.h"

extern grant_entry_v1_t* pv_grant_entries;
#define PV_GRANT_ENTRIES (PV_PAGE_SIZE / sizeof(grant_entry_v1_t))

/* Places frame 0. 0 or -errno. */
long pv_grant_init(void);
/* Grants `page` (page aligned) to `domid`; returns the reference, 0 when the table is full. */
grant_ref_t pv_grant_page(domid_t domid, const void* page, bool readonly);
/* Writes entry `ref` as given (for tests that need odd entries). */
void pv_grant_set(grant_ref_t ref, domid_t domid, uint64_t frame, uint16_t flags);
/* Revokes a grant (clears GTF_permit_access); false while the grantee still uses it. */
bool pv_grant_end(grant_ref_t ref);
