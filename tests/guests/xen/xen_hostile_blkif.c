/* xen_hostile_blkif.c - a blkif front end that corrupts its ring (issue 6 item 8): req_prod jumps
 * 1000 entries past the ring. popek's back end must shut that ring, say so the Xen way (an "error"
 * node under its backend path, state Closing), keep the disk and itself intact, and accept a fresh
 * connection after the front end closes and starts over (Closed -> Initialising -> InitWait). */
#include "pv_blkfront.h"
#include "pv_evtchn.h"
#include "pv_grant.h"

static uint8_t page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;

void pv_main(void) {
    pv_check("store.init", pv_xs_init(), 0);
    pv_check("grant.init", pv_grant_init(), 0);
    struct pv_blkfront bf;
    if (!pv_check("connect", pv_blkfront_connect(&bf, "51712"), 0)) return;
    void* p[1] = {page};
    pv_check("read.before", pv_blkfront_rw(&bf, BLKIF_OP_READ, 0, p, 1), BLKIF_RSP_OKAY);

    bf.ring.sring->req_prod = bf.ring.req_prod_pvt + 1000;
    pv_evtchn_send(bf.port);
    long state = pv_xenbus_wait_backend(&bf.dev, XenbusStateClosing, 5000);
    pv_check("backend.closing", state, XenbusStateClosing);
    char path[192], err[128];
    long n = pv_xs_read(0, pv_path(path, sizeof path, bf.dev.be, "error"), err, sizeof err);
    pv_check_true("backend.error-node", n > 0);
    pv_printf("hostile-blkif: backend error '%s'\n", n > 0 ? err : "");

    /* Start over: Closed, then Initialising; the back end returns to InitWait and reconnects. */
    pv_check("close", pv_blkfront_close(&bf), XenbusStateClosed);
    pv_check("ring.grant-released", pv_grant_end(bf.ring_ref), 1);
    pv_check("reinit", pv_xenbus_set_state(&bf.dev, XenbusStateInitialising), 0);
    if (!pv_check("reconnect", pv_blkfront_connect(&bf, "51712"), 0)) return;
    memset(page, 0x55, sizeof page);
    pv_check("read.after", pv_blkfront_rw(&bf, BLKIF_OP_READ, 0, p, 1), BLKIF_RSP_OKAY);
    pv_printf("hostile-blkif: sector 0 says '%s'\n", (const char*)page);
}
