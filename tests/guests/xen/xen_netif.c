/* xen_netif.c - a netif client for the first vif (device/vif/0) on popek's `--net user` (libslirp):
 * negotiates with popek's back end through XenBus, then talks to a host peer:
 *   - ARP request for the gateway 10.0.2.2, expects slirp's reply;
 *   - a UDP datagram to 10.0.2.2:PORT (PORT from "port=N" on the command line), which slirp hands
 *     to the test's UDP socket on the host's 127.0.0.1:PORT, sent as a chain of three fragments
 *     (Ethernet header, IP+UDP headers, payload) from odd offsets of three granted pages;
 *   - a 1400-byte datagram in two fragments;
 * the host echoes each datagram back prefixed with "echo:", the guest checks every byte.
 * Closes the device at the end (back end Closed). */
#include "pv_grant.h"
#include "pv_hypercall.h"
#include "pv_net.h"

#define GUEST_PORT 40000

static uint8_t frame[PV_PAGE_SIZE];

static bool arp_gateway(struct pv_netfront* nf, uint8_t* gw_mac) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        uint8_t req[64];
        uint32_t len = pv_arp_request(req, nf->mac, pv_gateway_ip);
        const void* parts[1] = {req};
        uint16_t lens[1] = {(uint16_t)len}, offs[1] = {0};
        if (!pv_check("arp.sent", pv_netfront_send(nf, parts, lens, offs, 1), NETIF_RSP_OKAY)) return false;
        uint64_t deadline = pv_deadline_ms(2000);
        long n;
        while ((n = pv_netfront_recv(nf, frame, sizeof frame, deadline)) > 0)
            if (pv_is_arp_reply(frame, n, pv_gateway_ip, gw_mac)) return true;
    }
    return false;
}

/* Sends `payload` to the gateway's `port` split into `nparts` fragments and checks the echo. */
static void udp_exchange(struct pv_netfront* nf, const char* name, const uint8_t* gw_mac, uint16_t port,
                         const uint8_t* payload, uint16_t plen, unsigned nparts) {
    uint8_t eth[PV_ETH_HLEN], hdr[PV_IP_HLEN + PV_UDP_HLEN];
    pv_eth_header(eth, gw_mac, nf->mac, PV_ETH_IPV4);
    pv_ip_udp_header(hdr, GUEST_PORT, port, plen);
    char row[64];
    long st;
    uint64_t t0 = pv_now_ns();
    if (nparts == 3) {
        const void* parts[3] = {eth, hdr, payload};
        uint16_t lens[3] = {sizeof eth, sizeof hdr, plen};
        uint16_t offs[3] = {100, (uint16_t)(PV_PAGE_SIZE - sizeof hdr), (uint16_t)(PV_PAGE_SIZE - plen)};
        st = pv_netfront_send(nf, parts, lens, offs, 3);
    } else {
        static uint8_t head[PV_ETH_HLEN + PV_IP_HLEN + PV_UDP_HLEN];
        memcpy(head, eth, sizeof eth);
        memcpy(head + sizeof eth, hdr, sizeof hdr);
        const void* parts[2] = {head, payload};
        uint16_t lens[2] = {sizeof head, plen}, offs[2] = {7, 0};
        st = pv_netfront_send(nf, parts, lens, offs, 2);
    }
    pv_check(pv_path(row, sizeof row, name, "sent"), st, NETIF_RSP_OKAY);

    uint64_t deadline = pv_deadline_ms(5000);
    long n;
    while ((n = pv_netfront_recv(nf, frame, sizeof frame, deadline)) > 0) {
        uint32_t got = 0;
        const uint8_t* p = pv_udp_payload(frame, n, port, GUEST_PORT, &got);
        if (!p) continue;
        pv_printf("netif: %s round trip %u us\n", name, (unsigned)((pv_now_ns() - t0) / 1000));
        pv_check(pv_path(row, sizeof row, name, "echo-length"), got, 5 + plen);
        pv_check_true(pv_path(row, sizeof row, name, "echo-bytes"),
                      got == 5u + plen && memcmp(p, "echo:", 5) == 0 && memcmp(p + 5, payload, plen) == 0);
        return;
    }
    pv_check_true(pv_path(row, sizeof row, name, "echo-received"), false);
}

void pv_main(void) {
    pv_check("store.init", pv_xs_init(), 0);
    pv_check("grant.init", pv_grant_init(), 0);
    uint16_t port = pv_cmdline_port();
    if (!pv_check_true("cmdline.port", port != 0)) return;
    struct pv_netfront nf;
    if (!pv_check("netif.connect", pv_netfront_connect(&nf, "0"), 0)) return;
    pv_printf("netif: connected, mac %x:%x:%x:%x:%x:%x\n", nf.mac[0], nf.mac[1], nf.mac[2], nf.mac[3], nf.mac[4],
              nf.mac[5]);
    pv_check_true("netif.mac-is-xen-oui", nf.mac[0] == 0x00 && nf.mac[1] == 0x16 && nf.mac[2] == 0x3e);

    uint8_t gw_mac[6];
    if (!pv_check_true("arp.gateway-replied", arp_gateway(&nf, gw_mac))) return;
    pv_printf("netif: 10.0.2.2 is at %x:%x:%x:%x:%x:%x\n", gw_mac[0], gw_mac[1], gw_mac[2], gw_mac[3], gw_mac[4],
              gw_mac[5]);

    static const char ping[] = "popek netif ping";
    udp_exchange(&nf, "udp.small", gw_mac, port, (const uint8_t*)ping, sizeof ping - 1, 3);
    static uint8_t big[1400];
    for (unsigned i = 0; i < sizeof big; ++i) big[i] = (uint8_t)(i * 7 + 3);
    udp_exchange(&nf, "udp.1400", gw_mac, port, big, sizeof big, 2);

    pv_check("netif.close", pv_netfront_close(&nf), XenbusStateClosed);
}
