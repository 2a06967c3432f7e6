/* xen_blkif.c - a blkif client for the first vbd (xvda, device/vbd/51712): negotiates with popek's
 * back end through XenBus, then
 *   writable disk: writes three pages at sector 16 (byte i of sector s = pattern(s, i)) and sectors
 *     65..66 from the middle of a page (0xee), flushes, reads everything back and compares, discards
 *     sectors 40..47 and reads zeros, and checks that bad requests get BLKIF_RSP_ERROR /
 *     EOPNOTSUPP: past the end, bad segments, grants that do not exist or are read-only, unknown
 *     operations. The test then reads the host file after popek exits.
 *   read-only disk ("mode" r): reads sector 0 (printed), a write is refused, discard not offered.
 * Closes the device at the end (back end Closed, ring grant released). */
#include "pv_blkfront.h"
#include "pv_grant.h"

static uint8_t pages[6][PV_PAGE_SIZE] PV_PAGE_ALIGNED;

static uint8_t pattern(uint64_t sector, uint32_t i) { return (uint8_t)(sector * 13 + i * 7 + 0x5a); }

static void fill(uint8_t* page, uint64_t first_sector) {
    for (uint32_t i = 0; i < PV_PAGE_SIZE; ++i) page[i] = pattern(first_sector + i / 512, i % 512);
}

static blkif_request_t one_segment(uint8_t op, uint64_t sector, grant_ref_t gref, uint8_t first, uint8_t last) {
    blkif_request_t req = {.operation = op, .nr_segments = 1, .sector_number = sector};
    req.seg[0] = (struct blkif_request_segment){.gref = gref, .first_sect = first, .last_sect = last};
    return req;
}

static void bad_requests(struct pv_blkfront* bf) {
    void* p[1] = {pages[5]};
    pv_check("err.read-past-end", pv_blkfront_rw(bf, BLKIF_OP_READ, bf->sectors, p, 1), BLKIF_RSP_ERROR);
    pv_check("err.read-across-end", pv_blkfront_rw(bf, BLKIF_OP_READ, bf->sectors - 4, p, 1), BLKIF_RSP_ERROR);
    pv_check("err.read-huge-sector", pv_blkfront_rw(bf, BLKIF_OP_READ, ~0ull - 3, p, 1), BLKIF_RSP_ERROR);
    grant_ref_t ok = pv_grant_page(bf->dev.backend_id, pages[5], false);
    blkif_request_t req = one_segment(BLKIF_OP_READ, 0, ok, 5, 2);
    pv_check("err.first-after-last", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    req = one_segment(BLKIF_OP_READ, 0, ok, 0, 8);
    pv_check("err.last-sect-8", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    req = one_segment(BLKIF_OP_READ, 0, ok, 0, 7);
    req.nr_segments = 0;
    pv_check("err.no-segments", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    req.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
    pv_check("err.too-many-segments", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    req = one_segment(BLKIF_OP_READ, 0, 450, 0, 7); /* never granted */
    pv_check("err.ungranted-ref", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    req = one_segment(BLKIF_OP_READ, 0, 100000, 0, 7); /* past the table */
    pv_check("err.ref-out-of-range", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    grant_ref_t ro = pv_grant_page(bf->dev.backend_id, pages[4], true);
    memset(pages[4], 0x77, PV_PAGE_SIZE);
    req = one_segment(BLKIF_OP_READ, 0, ro, 0, 7); /* the back end would have to write into it */
    pv_check("err.read-into-readonly-grant", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    pv_check("err.readonly-grant-untouched", pages[4][0] == 0x77 && pages[4][4095] == 0x77, 1);
    grant_ref_t other = pv_grant_page(7, pages[4], false); /* granted to another domain */
    req = one_segment(BLKIF_OP_READ, 0, other, 0, 7);
    pv_check("err.grant-for-other-domain", pv_blkfront_submit(bf, &req), BLKIF_RSP_ERROR);
    req = one_segment(BLKIF_OP_INDIRECT, 0, ok, 0, 7);
    pv_check("err.indirect", pv_blkfront_submit(bf, &req), BLKIF_RSP_EOPNOTSUPP);
    req = one_segment(99, 0, ok, 0, 7);
    pv_check("err.unknown-op", pv_blkfront_submit(bf, &req), BLKIF_RSP_EOPNOTSUPP);
    /* The grants popek pinned for the failed requests are all released again. */
    pv_check("err.grants-unpinned", pv_grant_end(ok) && pv_grant_end(ro) && pv_grant_end(other), 1);
}

static void writable(struct pv_blkfront* bf) {
    void* w[3] = {pages[0], pages[1], pages[2]};
    for (int i = 0; i < 3; ++i) fill(pages[i], 16 + 8 * (uint64_t)i);
    pv_check("write.3-pages", pv_blkfront_rw(bf, BLKIF_OP_WRITE, 16, w, 3), BLKIF_RSP_OKAY);

    /* Sectors 65..66 from sectors 1..2 of a page. */
    memset(pages[3], 0xee, PV_PAGE_SIZE);
    grant_ref_t g = pv_grant_page(bf->dev.backend_id, pages[3], true); /* a write only reads it */
    blkif_request_t req = one_segment(BLKIF_OP_WRITE, 65, g, 1, 2);
    pv_check("write.partial-segment", pv_blkfront_submit(bf, &req), BLKIF_RSP_OKAY);
    pv_grant_end(g);

    req = (blkif_request_t){.operation = BLKIF_OP_FLUSH_DISKCACHE};
    pv_check_true("feature-flush-cache", bf->has_flush);
    pv_check("flush", pv_blkfront_submit(bf, &req), BLKIF_RSP_OKAY);

    void* r[3] = {pages[3], pages[4], pages[5]};
    for (int i = 3; i < 6; ++i) memset(pages[i], 0, PV_PAGE_SIZE);
    pv_check("read.3-pages", pv_blkfront_rw(bf, BLKIF_OP_READ, 16, r, 3), BLKIF_RSP_OKAY);
    bool same = true;
    for (int i = 0; i < 3; ++i) same = same && memcmp(pages[i], pages[3 + i], PV_PAGE_SIZE) == 0;
    pv_check_true("read.matches-written", same);
    pv_check("read.partial", pv_blkfront_rw(bf, BLKIF_OP_READ, 64, r, 1), BLKIF_RSP_OKAY);
    pv_check_true("read.partial-matches", pages[3][0] == 0 && pages[3][512] == 0xee && pages[3][1535] == 0xee &&
                                              pages[3][1536] == 0);

    pv_check_true("feature-discard", bf->has_discard);
    blkif_request_discard_t d = {.operation = BLKIF_OP_DISCARD, .sector_number = 24, .nr_sectors = 8};
    pv_check("discard", pv_blkfront_submit(bf, (blkif_request_t*)&d), BLKIF_RSP_OKAY);
    pv_check("read.discarded", pv_blkfront_rw(bf, BLKIF_OP_READ, 24, r, 1), BLKIF_RSP_OKAY);
    bool zero = true;
    for (uint32_t i = 0; i < PV_PAGE_SIZE; ++i) zero = zero && pages[3][i] == 0;
    pv_check_true("read.discarded-is-zero", zero);
    /* Put the discarded page back so the host sees the whole pattern. */
    pv_check("write.restore", pv_blkfront_rw(bf, BLKIF_OP_WRITE, 24, (void* const[]){pages[1]}, 1), BLKIF_RSP_OKAY);
    req = (blkif_request_t){.operation = BLKIF_OP_WRITE_BARRIER};
    pv_check("barrier", pv_blkfront_submit(bf, &req), BLKIF_RSP_OKAY);

    bad_requests(bf);
    pv_check("read.after-errors", pv_blkfront_rw(bf, BLKIF_OP_READ, 16, r, 1), BLKIF_RSP_OKAY);
    pv_check_true("read.after-errors-matches", memcmp(pages[0], pages[3], PV_PAGE_SIZE) == 0);
}

static void read_only(struct pv_blkfront* bf) {
    pv_check("info.readonly", bf->info & VDISK_READONLY, VDISK_READONLY);
    void* p[1] = {pages[0]};
    pv_check("ro.read", pv_blkfront_rw(bf, BLKIF_OP_READ, 0, p, 1), BLKIF_RSP_OKAY);
    pages[0][64] = 0;
    for (int i = 0; i < 64 && pages[0][i]; ++i)
        if (pages[0][i] < 0x20 || pages[0][i] > 0x7e) pages[0][i] = '.';
    pv_printf("blkif: sector 0 says '%s'\n", (const char*)pages[0]);
    fill(pages[1], 0);
    void* w[1] = {pages[1]};
    pv_check("ro.write-refused", pv_blkfront_rw(bf, BLKIF_OP_WRITE, 0, w, 1), BLKIF_RSP_ERROR);
    pv_check_true("ro.no-feature-discard", !bf->has_discard);
    blkif_request_discard_t d = {.operation = BLKIF_OP_DISCARD, .sector_number = 0, .nr_sectors = 8};
    pv_check("ro.discard-refused", pv_blkfront_submit(bf, (blkif_request_t*)&d), BLKIF_RSP_EOPNOTSUPP);
}

void pv_main(void) {
    pv_check("store.init", pv_xs_init(), 0);
    pv_check("grant.init", pv_grant_init(), 0);
    struct pv_blkfront bf;
    long r = pv_blkfront_connect(&bf, "51712");
    if (!pv_check("blkif.connect", r, 0)) return;
    pv_printf("blkif: connected, %lu sectors, mode %s, ring %u\n", bf.sectors, bf.readonly ? "r" : "w",
              RING_SIZE(&bf.ring));
    if (bf.readonly)
        read_only(&bf);
    else
        writable(&bf);
    pv_check("blkif.closed", pv_blkfront_close(&bf), XenbusStateClosed);
    pv_check_true("blkif.ring-grant-released", pv_grant_end(bf.ring_ref));
}
