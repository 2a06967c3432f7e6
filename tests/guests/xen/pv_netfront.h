/* pv_netfront.h - a minimal netif front end (io/netif.h "Feature and Parameter Negotiation",
 * "Guest transmit", "Guest receive"; io/ring.h): single-page tx and rx rings granted to the back
 * end, one event channel, copying receive (request-rx-copy), PV_NET_RX_BUFS receive pages posted
 * at connect and re-posted after each frame. Transmits wait for their responses. */
#pragma once
#include "pv_xenbus.h"

#define xen_mb() pv_mb()
#define xen_rmb() pv_rmb()
#define xen_wmb() pv_wmb()
#include <xen/io/netif.h>

#define PV_NET_RX_BUFS 8
#define PV_NET_TX_PAGES 4

struct pv_netfront {
    struct pv_xenbus_dev dev;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    grant_ref_t tx_ring_ref, rx_ring_ref;
    evtchn_port_t port;
    uint8_t mac[6];
    grant_ref_t rx_refs[PV_NET_RX_BUFS]; /* buffer i is posted with id i */
    grant_ref_t tx_refs[PV_NET_TX_PAGES];
};

/* The pages transmit requests point into (granted read-only to the back end as tx_refs[i]) and the
 * receive buffers (rx_refs[i]). */
extern uint8_t pv_net_tx_pages[PV_NET_TX_PAGES][PV_PAGE_SIZE];
extern uint8_t pv_net_rx_pages[PV_NET_RX_BUFS][PV_PAGE_SIZE];

/* Finds device/vif/<id>, waits for InitWait, reads the MAC, sets up rings, channel and receive
 * buffers, publishes them and waits for Connected. 0, or -errno / the back end's state. */
long pv_netfront_connect(struct pv_netfront* nf, const char* id);
/* Pushes `n` raw tx requests and waits for `n` responses (or the deadline); their statuses go to
 * `status` (may be NULL). Returns how many responses arrived. */
unsigned pv_netfront_tx_raw(struct pv_netfront* nf, const netif_tx_request_t* reqs, unsigned n, int16_t* status,
                            uint64_t timeout_ms);
/* Sends one frame made of `n` parts: part i is copied into tx page i at `offsets[i]` and becomes
 * slot i of the chain. Returns the first slot's status (NETIF_RSP_*) or -ETIME. */
long pv_netfront_send(struct pv_netfront* nf, const void* const* parts, const uint16_t* lens, const uint16_t* offsets,
                      unsigned n);
/* Posts one raw rx request. */
void pv_netfront_post_rx(struct pv_netfront* nf, uint16_t id, grant_ref_t gref);
/* The next rx response, waiting until the deadline (ns, pv_now_ns clock); false on timeout. */
bool pv_netfront_next_rx(struct pv_netfront* nf, netif_rx_response_t* out, uint64_t deadline_ns);
/* The next good frame into `buf` (re-posting the buffer); its length, or -ETIME. Responses with
 * errors or for ids that are not buffers are skipped. */
long pv_netfront_recv(struct pv_netfront* nf, uint8_t* buf, uint32_t cap, uint64_t deadline_ns);
/* Closing, then Closed; returns the back end's final state. */
long pv_netfront_close(struct pv_netfront* nf);
