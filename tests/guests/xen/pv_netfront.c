/* pv_netfront.c - see pv_netfront.h. */
#include "pv_netfront.h"

#include "pv_evtchn.h"
#include "pv_grant.h"
#include "pv_hypercall.h"

#define TIMEOUT_MS 10000

static uint8_t tx_ring_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
static uint8_t rx_ring_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
uint8_t pv_net_tx_pages[PV_NET_TX_PAGES][PV_PAGE_SIZE] PV_PAGE_ALIGNED;
uint8_t pv_net_rx_pages[PV_NET_RX_BUFS][PV_PAGE_SIZE] PV_PAGE_ALIGNED;

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "xx:xx:xx:xx:xx:xx" */
static bool parse_mac(const char* s, uint8_t* mac) {
    for (int i = 0; i < 6; ++i) {
        int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || s[3 * i + 2] != (i == 5 ? '\0' : ':')) return false;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void pv_netfront_post_rx(struct pv_netfront* nf, uint16_t id, grant_ref_t gref) {
    netif_rx_request_t* req = RING_GET_REQUEST(&nf->rx, nf->rx.req_prod_pvt);
    req->id = id;
    req->gref = gref;
    nf->rx.req_prod_pvt++;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, notify);
    if (notify) pv_evtchn_send(nf->port);
}

long pv_netfront_connect(struct pv_netfront* nf, const char* id) {
    memset(nf, 0, sizeof *nf);
    long r = pv_xenbus_open(&nf->dev, "vif", id);
    if (r != 0) return r;
    long state = pv_xenbus_wait_backend(&nf->dev, XenbusStateInitWait, TIMEOUT_MS);
    if (state != XenbusStateInitWait) return state < 0 ? state : -EIO;
    char path[192], text[32] = "";
    if (pv_xs_read(0, pv_path(path, sizeof path, nf->dev.fe, "mac"), text, sizeof text) < 0 || !parse_mac(text, nf->mac))
        return -EINVAL;
    uint64_t v = 0;
    if (pv_xenbus_read_u64(nf->dev.be, "feature-rx-copy", &v) != 0 || v != 1) return -EOPNOTSUPP;

    netif_tx_sring_t* txs = (netif_tx_sring_t*)tx_ring_page;
    netif_rx_sring_t* rxs = (netif_rx_sring_t*)rx_ring_page;
    SHARED_RING_INIT(txs);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&nf->tx, txs, PV_PAGE_SIZE);
    FRONT_RING_INIT(&nf->rx, rxs, PV_PAGE_SIZE);
    nf->tx_ring_ref = pv_grant_page(nf->dev.backend_id, tx_ring_page, false);
    nf->rx_ring_ref = pv_grant_page(nf->dev.backend_id, rx_ring_page, false);
    if (nf->tx_ring_ref == 0 || nf->rx_ring_ref == 0) return -ENOSPC;
    for (unsigned i = 0; i < PV_NET_TX_PAGES; ++i) {
        nf->tx_refs[i] = pv_grant_page(nf->dev.backend_id, pv_net_tx_pages[i], true);
        if (nf->tx_refs[i] == 0) return -ENOSPC;
    }
    r = pv_evtchn_alloc_unbound(nf->dev.backend_id, &nf->port);
    if (r != 0) return r;
    for (uint16_t i = 0; i < PV_NET_RX_BUFS; ++i) {
        nf->rx_refs[i] = pv_grant_page(nf->dev.backend_id, pv_net_rx_pages[i], false);
        if (nf->rx_refs[i] == 0) return -ENOSPC;
        pv_netfront_post_rx(nf, i, nf->rx_refs[i]);
    }

    for (int attempt = 0; attempt < 5; ++attempt) {
        uint32_t tx = 0;
        r = pv_xs_transaction_start(&tx);
        if (r != 0) return r;
        pv_xenbus_write_u64(tx, nf->dev.fe, "tx-ring-ref", nf->tx_ring_ref);
        pv_xenbus_write_u64(tx, nf->dev.fe, "rx-ring-ref", nf->rx_ring_ref);
        pv_xenbus_write_u64(tx, nf->dev.fe, "event-channel", nf->port);
        pv_xenbus_write_u64(tx, nf->dev.fe, "request-rx-copy", 1);
        pv_xenbus_write_u64(tx, nf->dev.fe, "feature-rx-notify", 1);
        pv_xenbus_write_u64(tx, nf->dev.fe, "state", XenbusStateConnected);
        r = pv_xs_transaction_end(tx, true);
        if (r != -EAGAIN) break;
    }
    if (r != 0) return r;
    state = pv_xenbus_wait_backend(&nf->dev, XenbusStateConnected, TIMEOUT_MS);
    if (state != XenbusStateConnected) return state < 0 ? state : -EIO;
    return 0;
}

unsigned pv_netfront_tx_raw(struct pv_netfront* nf, const netif_tx_request_t* reqs, unsigned n, int16_t* status,
                            uint64_t timeout_ms) {
    for (unsigned i = 0; i < n; ++i) *RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt + i) = reqs[i];
    nf->tx.req_prod_pvt += n;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, notify);
    if (notify) pv_evtchn_send(nf->port);
    uint64_t deadline = pv_deadline_ms(timeout_ms);
    unsigned got = 0;
    while (got < n) {
        if (RING_HAS_UNCONSUMED_RESPONSES(&nf->tx)) {
            netif_tx_response_t* rsp = RING_GET_RESPONSE(&nf->tx, nf->tx.rsp_cons);
            if (status) status[got] = rsp->status;
            nf->tx.rsp_cons++;
            ++got;
            continue;
        }
        int more = 0;
        RING_FINAL_CHECK_FOR_RESPONSES(&nf->tx, more);
        if (more) continue;
        if (!pv_evtchn_wait(nf->port, deadline) && pv_now_ns() >= deadline) break;
    }
    return got;
}

long pv_netfront_send(struct pv_netfront* nf, const void* const* parts, const uint16_t* lens, const uint16_t* offsets,
                      unsigned n) {
    if (n == 0 || n > PV_NET_TX_PAGES) return -EINVAL;
    netif_tx_request_t reqs[PV_NET_TX_PAGES];
    uint32_t total = 0;
    for (unsigned i = 0; i < n; ++i) total += lens[i];
    for (unsigned i = 0; i < n; ++i) {
        if ((uint32_t)offsets[i] + lens[i] > PV_PAGE_SIZE) return -EINVAL;
        memcpy(pv_net_tx_pages[i] + offsets[i], parts[i], lens[i]);
        reqs[i] = (netif_tx_request_t){.gref = nf->tx_refs[i],
                                       .offset = offsets[i],
                                       .flags = (uint16_t)(i + 1 < n ? NETTXF_more_data : 0),
                                       .id = (uint16_t)i,
                                       .size = (uint16_t)(i == 0 ? total : lens[i])};
    }
    int16_t status[PV_NET_TX_PAGES];
    if (pv_netfront_tx_raw(nf, reqs, n, status, TIMEOUT_MS) != n) return -ETIME;
    return status[0];
}

bool pv_netfront_next_rx(struct pv_netfront* nf, netif_rx_response_t* out, uint64_t deadline_ns) {
    for (;;) {
        if (RING_HAS_UNCONSUMED_RESPONSES(&nf->rx)) {
            *out = *RING_GET_RESPONSE(&nf->rx, nf->rx.rsp_cons);
            nf->rx.rsp_cons++;
            return true;
        }
        int more = 0;
        RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
        if (more) continue;
        if (!pv_evtchn_wait(nf->port, deadline_ns) && pv_now_ns() >= deadline_ns) return false;
    }
}

long pv_netfront_recv(struct pv_netfront* nf, uint8_t* buf, uint32_t cap, uint64_t deadline_ns) {
    netif_rx_response_t rsp;
    while (pv_netfront_next_rx(nf, &rsp, deadline_ns)) {
        if (rsp.id >= PV_NET_RX_BUFS) continue;
        long len = rsp.status;
        bool ok = len > 0 && rsp.offset + (uint32_t)len <= PV_PAGE_SIZE && !(rsp.flags & NETRXF_more_data);
        if (ok) memcpy(buf, pv_net_rx_pages[rsp.id] + rsp.offset, (uint32_t)len < cap ? (uint32_t)len : cap);
        pv_netfront_post_rx(nf, rsp.id, nf->rx_refs[rsp.id]);
        if (ok) return len;
    }
    return -ETIME;
}

long pv_netfront_close(struct pv_netfront* nf) {
    pv_xenbus_set_state(&nf->dev, XenbusStateClosing);
    pv_xenbus_wait_backend(&nf->dev, XenbusStateClosing, TIMEOUT_MS);
    pv_xenbus_set_state(&nf->dev, XenbusStateClosed);
    return pv_xenbus_wait_backend(&nf->dev, XenbusStateClosed, TIMEOUT_MS);
}
