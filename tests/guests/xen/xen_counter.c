/* xen_counter.c - a deterministic Xen guest for bit-exact snapshots (tests/integration/
 * snapshot_counter.py with --xen): every round writes a XenStore node and a disk page through the
 * vbd (event channel, grants, blkif ring), reads both back, and prints "count N sum=S" where S
 * depends only on what came back; then "counter: done" and poweroff. No timers and no clock, so
 * an uninterrupted run and a run snapshotted, killed and restored print the same bytes. */
#include "pv_blkfront.h"
#include "pv_grant.h"

#ifndef ROUNDS
#define ROUNDS 60
#endif
#ifndef WORK
#define WORK 3000000
#endif

static uint8_t out_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED, in_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
static char value[32], back[32];

static uint64_t mix(uint64_t sum, uint64_t v) { return (sum ^ v) * 6364136223846793005ull + 1442695040888963407ull; }

void pv_main(void) {
    pv_printf("counter: start\n");
    if (!pv_check("store.init", pv_xs_init(), 0) || !pv_check("grant.init", pv_grant_init(), 0)) pv_finish();
    struct pv_blkfront bf;
    if (!pv_check("blkif.connect", pv_blkfront_connect(&bf, "51712"), 0) || bf.sectors < 64 * 8) pv_finish();
    uint64_t sum = 0x5eed;
    for (uint32_t round = 0; round < ROUNDS; ++round) {
        pv_utoa(sum % 1000003u, value);
        if (pv_xs_write(0, "data/counter", value) != 0) pv_finish();
        long n = pv_xs_read(0, "data/counter", back, sizeof back);
        if (n < 0 || strcmp(back, value) != 0) pv_finish();
        sum = mix(sum, (uint64_t)n);
        for (uint32_t i = 0; i < PV_PAGE_SIZE; ++i) out_page[i] = (uint8_t)(sum >> (8 * (i % 8))) ^ (uint8_t)i;
        const uint64_t sector = (uint64_t)(round % 64) * 8;
        void* w[1] = {out_page};
        void* r[1] = {in_page};
        if (pv_blkfront_rw(&bf, BLKIF_OP_WRITE, sector, w, 1) != BLKIF_RSP_OKAY ||
            pv_blkfront_rw(&bf, BLKIF_OP_READ, sector, r, 1) != BLKIF_RSP_OKAY)
            pv_finish();
        for (uint32_t i = 0; i < PV_PAGE_SIZE; i += 8) {
            uint64_t word;
            memcpy(&word, in_page + i, sizeof word);
            sum = mix(sum, word);
        }
        for (volatile uint32_t spin = 0; spin < WORK; ++spin) {
        }
        pv_printf("count %u sum=%lx\n", round, sum);
    }
    pv_check("blkif.closed", pv_blkfront_close(&bf), XenbusStateClosed);
    if (pv_failures() != 0) pv_finish();
    pv_printf("counter: done\n");
    pv_shutdown(SHUTDOWN_poweroff);
}
