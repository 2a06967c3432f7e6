/* xen_hostile_netif.c - a netif front end that abuses its rings (issue 6 item 8), on `--net user`:
 *   tx: offset + size past the page, size 0, a runt, fragments larger than the packet, ungranted /
 *       out-of-range / other-domain grants, extra info (not offered), a chain of fragments longer
 *       than XEN_NETIF_NR_SLOTS_MIN that only ends later — each slot answered NETIF_RSP_ERROR
 *       (extra-info slots NETIF_RSP_NULL), then a good ARP exchange;
 *   rx: an ungranted and a read-only buffer (ERROR, page untouched), one id posted twice (both
 *       answered), a frame arriving with no buffer posted (dropped, not delivered later);
 *   rings: rx req_prod and then tx req_prod 1000 past the ring: the back end shuts the ring, writes
 *       an "error" node and goes to Closing; the front end starts over and the vif works again. */
#include "pv_evtchn.h"
#include "pv_grant.h"
#include "pv_hypercall.h"
#include "pv_net.h"

static uint8_t frame[PV_PAGE_SIZE];
static uint8_t ro_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;

static netif_tx_request_t req(grant_ref_t gref, uint16_t offset, uint16_t size, uint16_t id, uint16_t flags) {
    return (netif_tx_request_t){.gref = gref, .offset = offset, .flags = flags, .id = id, .size = size};
}

/* Pushes `n` requests; checks that all `n` were answered with `want` (the first `null_at` index,
 * if < n, with NETIF_RSP_NULL instead). */
static void tx_case(struct pv_netfront* nf, const char* name, const netif_tx_request_t* reqs, unsigned n, unsigned null_at) {
    int16_t status[32];
    unsigned got = pv_netfront_tx_raw(nf, reqs, n, status, 5000);
    unsigned wrong = 0;
    for (unsigned i = 0; i < got; ++i) wrong += status[i] != (i == null_at ? NETIF_RSP_NULL : NETIF_RSP_ERROR);
    char row[64];
    pv_check(pv_path(row, sizeof row, name, "answered"), got, n);
    pv_check(pv_path(row, sizeof row, name, "wrong-status"), wrong, 0);
}

static void send_arp(struct pv_netfront* nf) {
    uint8_t arp[64];
    const void* parts[1] = {arp};
    uint16_t lens[1] = {(uint16_t)pv_arp_request(arp, nf->mac, pv_gateway_ip)}, offs[1] = {0};
    pv_netfront_send(nf, parts, lens, offs, 1);
}

/* A full ARP exchange with the gateway over the normal buffers. */
static bool arp_works(struct pv_netfront* nf) {
    uint8_t gw[6];
    for (int attempt = 0; attempt < 3; ++attempt) {
        send_arp(nf);
        uint64_t deadline = pv_deadline_ms(2000);
        long n;
        while ((n = pv_netfront_recv(nf, frame, sizeof frame, deadline)) > 0)
            if (pv_is_arp_reply(frame, n, pv_gateway_ip, gw)) return true;
    }
    return false;
}

static void hostile_tx(struct pv_netfront* nf) {
    grant_ref_t g = nf->tx_refs[0];
    netif_tx_request_t r[32];
    r[0] = req(g, 4000, 200, 1, 0);
    tx_case(nf, "tx.offset+size-past-page", r, 1, 99);
    r[0] = req(g, 5000, 60, 1, 0);
    tx_case(nf, "tx.offset-past-page", r, 1, 99);
    r[0] = req(g, 0, 0, 1, 0);
    tx_case(nf, "tx.size-0", r, 1, 99);
    r[0] = req(g, 0, 10, 1, 0);
    tx_case(nf, "tx.runt", r, 1, 99);
    r[0] = req(g, 0, 50, 1, NETTXF_more_data);
    r[1] = req(nf->tx_refs[1], 0, 80, 2, 0);
    tx_case(nf, "tx.fragments-exceed-total", r, 2, 99);
    r[0] = req(450, 0, 60, 1, 0);
    tx_case(nf, "tx.ungranted-ref", r, 1, 99);
    r[0] = req(100000, 0, 60, 1, 0);
    tx_case(nf, "tx.ref-out-of-range", r, 1, 99);
    grant_ref_t other = pv_grant_page(7, ro_page, true);
    r[0] = req(other, 0, 60, 1, 0);
    tx_case(nf, "tx.grant-for-other-domain", r, 1, 99);
    pv_grant_end(other);
    r[0] = req(g, 0, 60, 1, NETTXF_extra_info);
    netif_extra_info_t extra = {.type = XEN_NETIF_EXTRA_TYPE_GSO};
    memset(&r[1], 0, sizeof r[1]);
    memcpy(&r[1], &extra, sizeof extra);
    tx_case(nf, "tx.extra-info", r, 2, 1);
    /* 25 slots, every one saying "more": answered as they come, although the chain goes on. */
    for (uint16_t i = 0; i < 25; ++i) r[i] = req(g, 0, i == 0 ? 2000 : 10, i, NETTXF_more_data);
    tx_case(nf, "tx.chain-over-limit", r, 25, 99);
    r[0] = req(g, 0, 10, 25, 0);
    tx_case(nf, "tx.chain-end", r, 1, 99);
    pv_check_true("tx.arp-after", arp_works(nf));
}

static void hostile_rx(struct pv_netfront* nf) {
    /* Post the bad buffers behind the good ones, then use up the good ones without re-posting. */
    grant_ref_t ro = pv_grant_page(nf->dev.backend_id, ro_page, true);
    memset(ro_page, 0x77, sizeof ro_page);
    pv_netfront_post_rx(nf, 100, 450);
    pv_netfront_post_rx(nf, 101, ro);
    int16_t bad_status[2] = {1, 1};
    unsigned bad = 0;
    for (int i = 0; i < 24 && bad < 2; ++i) {
        send_arp(nf);
        netif_rx_response_t rsp;
        if (!pv_netfront_next_rx(nf, &rsp, pv_deadline_ms(2000))) continue;
        if (rsp.id == 100 || rsp.id == 101) bad_status[rsp.id - 100] = rsp.status, ++bad;
    }
    pv_check("rx.ungranted-buffer", bad_status[0], NETIF_RSP_ERROR);
    pv_check("rx.readonly-buffer", bad_status[1], NETIF_RSP_ERROR);
    pv_check_true("rx.readonly-untouched", ro_page[0] == 0x77 && ro_page[4095] == 0x77);
    pv_check("rx.readonly-grant-released", pv_grant_end(ro), 1);

    /* Nothing posted now: the gateway's reply is dropped, and not delivered once a buffer comes. */
    netif_rx_response_t rsp;
    uint64_t t0 = pv_now_ns();
    while (pv_netfront_next_rx(nf, &rsp, t0 + 300000000ull)) {} /* drain stragglers */
    send_arp(nf);
    pv_check_true("rx.no-buffer-nothing-delivered", !pv_netfront_next_rx(nf, &rsp, pv_deadline_ms(1000)));
    pv_netfront_post_rx(nf, 0, nf->rx_refs[0]);
    pv_check_true("rx.dropped-not-queued", !pv_netfront_next_rx(nf, &rsp, pv_deadline_ms(500)));

    /* The same id twice: both answered, each with that id. */
    pv_netfront_post_rx(nf, 5, nf->rx_refs[5]);
    pv_netfront_post_rx(nf, 5, nf->rx_refs[6]);
    unsigned id5 = 0;
    for (int i = 0; i < 10 && id5 < 2; ++i) {
        send_arp(nf);
        if (pv_netfront_next_rx(nf, &rsp, pv_deadline_ms(2000))) id5 += rsp.id == 5 && rsp.status > 0;
        else if (pv_netfront_next_rx(nf, &rsp, pv_deadline_ms(10))) id5 += rsp.id == 5 && rsp.status > 0;
    }
    pv_check("rx.reused-id-answered", id5, 2);
    for (uint16_t i = 1; i < PV_NET_RX_BUFS; ++i) pv_netfront_post_rx(nf, i, nf->rx_refs[i]);
    pv_check_true("rx.arp-after", arp_works(nf));
}

/* Corrupts one ring's req_prod; expects Closing + error node, then starts over. */
static void corrupt_ring(struct pv_netfront* nf, const char* name, bool tx) {
    char row[64], path[192], err[128];
    if (tx) nf->tx.sring->req_prod = nf->tx.req_prod_pvt + 1000;
    else nf->rx.sring->req_prod = nf->rx.req_prod_pvt + 1000;
    pv_mb();
    pv_evtchn_send(nf->port);
    long state = pv_xenbus_wait_backend(&nf->dev, XenbusStateClosing, 5000);
    pv_check(pv_path(row, sizeof row, name, "backend-closing"), state, XenbusStateClosing);
    long n = pv_xs_read(0, pv_path(path, sizeof path, nf->dev.be, "error"), err, sizeof err);
    pv_check_true(pv_path(row, sizeof row, name, "error-node"), n > 0);
    pv_printf("hostile-netif: backend error '%s'\n", n > 0 ? err : "");
    pv_check(pv_path(row, sizeof row, name, "close"), pv_netfront_close(nf), XenbusStateClosed);
    pv_check(pv_path(row, sizeof row, name, "reinit"), pv_xenbus_set_state(&nf->dev, XenbusStateInitialising), 0);
    pv_check(pv_path(row, sizeof row, name, "reconnect"), pv_netfront_connect(nf, "0"), 0);
    pv_check_true(pv_path(row, sizeof row, name, "arp-after"), arp_works(nf));
}

void pv_main(void) {
    pv_check("store.init", pv_xs_init(), 0);
    pv_check("grant.init", pv_grant_init(), 0);
    struct pv_netfront nf;
    if (!pv_check("netif.connect", pv_netfront_connect(&nf, "0"), 0)) return;
    pv_check_true("arp.before", arp_works(&nf));
    hostile_tx(&nf);
    hostile_rx(&nf);
    corrupt_ring(&nf, "ring.rx", false);
    corrupt_ring(&nf, "ring.tx", true);
    pv_check("netif.close", pv_netfront_close(&nf), XenbusStateClosed);
}
