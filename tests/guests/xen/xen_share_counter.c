/* xen_share_counter.c - a deterministic Xen guest for bit-exact snapshots with --share (tests/
 * integration/snapshot_counter.py with --xen-share): it opens data.bin for reading and log.txt for
 * writing once, through the popekfs device (include/popek/pvabi/fsif.h), then every round reads the
 * next 512 bytes of data.bin on the same handle (popekfs has no file position: the guest keeps the
 * offset), appends a line to log.txt on its handle, reads that line back, and prints
 * "count N sum=S" where S depends only on what came back; then closes both, "counter: done" and
 * poweroff. Snapshotted between two rounds, the handles cross the snapshot open. No timers and no
 * clock, so an uninterrupted run and a restored one print the same bytes. */
#include "pv_grant.h"
#include "pv_sharefront.h"

#ifndef ROUNDS
#define ROUNDS 40
#endif
#ifndef WORK
#define WORK 3000000
#endif
#define CHUNK 512

static uint8_t chunk[CHUNK];
static char line[64], back[64];

static uint64_t mix(uint64_t sum, uint64_t v) { return (sum ^ v) * 6364136223846793005ull + 1442695040888963407ull; }

void pv_main(void) {
    pv_printf("counter: start\n");
    if (!pv_check("store.init", pv_xs_init(), 0) || !pv_check("grant.init", pv_grant_init(), 0)) pv_finish();
    struct pv_sharefront sf;
    if (!pv_check("share.connect", pv_share_connect(&sf), 0)) pv_finish();
    const long data = pv_share_open_str(&sf, "data.bin", POPEKFS_O_READ);
    const long log = pv_share_open_str(&sf, "log.txt", POPEKFS_O_WRITE | POPEKFS_O_READ | POPEKFS_O_CREATE | POPEKFS_O_TRUNCATE);
    if (data < 0 || log < 0) {
        pv_printf("counter: open failed %ld %ld\n", data, log);
        pv_finish();
    }
    uint64_t sum = 0x5eed, log_at = 0;
    for (uint32_t round = 0; round < ROUNDS; ++round) {
        const long n = pv_share_read(&sf, (uint32_t)data, (uint64_t)round * CHUNK, chunk, CHUNK);
        if (n != CHUNK) {
            pv_printf("counter: read %ld at round %u\n", n, round);
            pv_finish();
        }
        for (uint32_t i = 0; i < CHUNK; i += 8) {
            uint64_t word;
            memcpy(&word, chunk + i, sizeof word);
            sum = mix(sum, word);
        }
        pv_utoa(sum % 1000003u, line);
        const uint32_t len = (uint32_t)strlen(line);
        line[len] = '\n';
        if (pv_share_write(&sf, (uint32_t)log, log_at, line, len + 1) != (long)len + 1 ||
            pv_share_read(&sf, (uint32_t)log, log_at, back, len + 1) != (long)len + 1 || memcmp(back, line, len + 1) != 0) {
            pv_printf("counter: log failed at round %u\n", round);
            pv_finish();
        }
        log_at += len + 1;
        for (volatile uint32_t spin = 0; spin < WORK; ++spin) {
        }
        pv_printf("count %u sum=%lx\n", round, sum);
    }
    pv_check("share.close.data", pv_share_close(&sf, (uint32_t)data), 0);
    pv_check("share.close.log", pv_share_close(&sf, (uint32_t)log), 0);
    if (pv_failures() != 0) pv_finish();
    pv_printf("counter: done\n");
    pv_shutdown(SHUTDOWN_poweroff);
}
