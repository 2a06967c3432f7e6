/* xen_blkbench.c - blkif sequential throughput (bench/blkif_bench.cpp): writes the whole of xvda
 * front to back in requests of 11 pages (44 KiB, the most one blkif request carries without
 * indirect segments), flushes, then reads it all back the same way. The pages are granted once
 * and reused (as a front end with persistent grants would), so the figures are the back end's
 * path: ring, grant copies, disk. Prints
 *   blkbench: write <bytes> bytes <ns> ns
 *   blkbench: read <bytes> bytes <ns> ns
 * with Xen system time (pv_now_ns) around each pass. */
#include "pv_blkfront.h"
#include "pv_grant.h"
#include "pv_hypercall.h"

#define BATCH BLKIF_MAX_SEGMENTS_PER_REQUEST

static uint8_t pages[BATCH][PV_PAGE_SIZE] PV_PAGE_ALIGNED;

static bool pass(struct pv_blkfront* bf, uint8_t op, const char* name) {
    void* p[BATCH];
    for (int i = 0; i < BATCH; ++i) p[i] = pages[i];
    const uint64_t pages_total = bf->sectors / 8;
    uint64_t t0 = pv_now_ns();
    for (uint64_t at = 0; at < pages_total;) {
        unsigned n = pages_total - at < BATCH ? (unsigned)(pages_total - at) : BATCH;
        long r = pv_blkfront_rw(bf, op, at * 8, p, n);
        if (r != BLKIF_RSP_OKAY) {
            pv_printf("blkbench: %s at page %lu: status %ld\n", name, at, r);
            return false;
        }
        at += n;
    }
    if (op == BLKIF_OP_WRITE) {
        blkif_request_t req = {.operation = BLKIF_OP_FLUSH_DISKCACHE};
        if (pv_blkfront_submit(bf, &req) != BLKIF_RSP_OKAY) return false;
    }
    uint64_t t1 = pv_now_ns();
    pv_printf("blkbench: %s %lu bytes %lu ns\n", name, pages_total * PV_PAGE_SIZE, t1 - t0);
    return true;
}

void pv_main(void) {
    pv_check("store.init", pv_xs_init(), 0);
    pv_check("grant.init", pv_grant_init(), 0);
    struct pv_blkfront bf;
    if (!pv_check("blkif.connect", pv_blkfront_connect(&bf, "51712"), 0)) return;
    for (int i = 0; i < BATCH; ++i) memset(pages[i], 0x30 + i, PV_PAGE_SIZE);
    pv_check_true("bench.write", pass(&bf, BLKIF_OP_WRITE, "write"));
    pv_check_true("bench.read", pass(&bf, BLKIF_OP_READ, "read"));
    pv_check("blkif.closed", pv_blkfront_close(&bf), XenbusStateClosed);
}
