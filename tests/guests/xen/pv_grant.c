/* pv_grant.c - see pv_grant.h. */
#include "pv_grant.h"

#include "pv_hypercall.h"

static uint8_t table_frame[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
grant_entry_v1_t* pv_grant_entries = (grant_entry_v1_t*)table_frame;
static grant_ref_t next_ref = GNTTAB_NR_RESERVED_ENTRIES;

long pv_grant_init(void) {
    xen_add_to_physmap_t x = {.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0,
                              .gpfn = pv_pfn(table_frame)};
    return HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x);
}

void pv_grant_set(grant_ref_t ref, domid_t domid, uint64_t frame, uint16_t flags) {
    grant_entry_v1_t* e = &pv_grant_entries[ref];
    e->frame = (uint32_t)frame;
    e->domid = domid;
    pv_wmb(); /* frame and domid before the flags that make the grant valid */
    __atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
}

grant_ref_t pv_grant_page(domid_t domid, const void* page, bool readonly) {
    if (next_ref >= PV_GRANT_ENTRIES) return 0;
    grant_ref_t ref = next_ref++;
    pv_grant_set(ref, domid, pv_pfn(page), (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)));
    return ref;
}

bool pv_grant_end(grant_ref_t ref) {
    uint16_t flags = __atomic_load_n(&pv_grant_entries[ref].flags, __ATOMIC_ACQUIRE);
    for (;;) {
        if (flags & (GTF_reading | GTF_writing)) return false;
        if (__atomic_compare_exchange_n(&pv_grant_entries[ref].flags, &flags, 0, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return true;
    }
}
