/* pv_net.h - Ethernet / ARP / IPv4 / UDP framing for the netif test guests (RFC 826, 791, 768),
 * against slirp's user network: the guest is 10.0.2.15, the gateway (the host) 10.0.2.2. */
#pragma once
#include "pv_netfront.h"

#define PV_ETH_HLEN 14
#define PV_ETH_ARP 0x0806
#define PV_ETH_IPV4 0x0800
#define PV_ARP_LEN 28
#define PV_IP_HLEN 20
#define PV_UDP_HLEN 8

static const uint8_t pv_guest_ip[4] = {10, 0, 2, 15};
static const uint8_t pv_gateway_ip[4] = {10, 0, 2, 2};

static inline uint16_t pv_get16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void pv_put16(uint8_t* p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void pv_eth_header(uint8_t* f, const uint8_t* dst, const uint8_t* src, uint16_t type) {
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    pv_put16(f + 12, type);
}

/* An ARP request "who has `ip`" from us; returns the frame length. */
static inline uint32_t pv_arp_request(uint8_t* f, const uint8_t* mac, const uint8_t* ip) {
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    pv_eth_header(f, broadcast, mac, PV_ETH_ARP);
    uint8_t* a = f + PV_ETH_HLEN;
    pv_put16(a, 1);           /* Ethernet */
    pv_put16(a + 2, 0x0800);  /* IPv4 */
    a[4] = 6;
    a[5] = 4;
    pv_put16(a + 6, 1);       /* request */
    memcpy(a + 8, mac, 6);
    memcpy(a + 14, pv_guest_ip, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, ip, 4);
    return PV_ETH_HLEN + PV_ARP_LEN;
}

/* True if `f` is an ARP reply from `ip`; its sender MAC goes to `mac`. */
static inline bool pv_is_arp_reply(const uint8_t* f, long len, const uint8_t* ip, uint8_t* mac) {
    if (len < PV_ETH_HLEN + PV_ARP_LEN || pv_get16(f + 12) != PV_ETH_ARP) return false;
    const uint8_t* a = f + PV_ETH_HLEN;
    if (pv_get16(a + 6) != 2 || memcmp(a + 14, ip, 4) != 0) return false;
    memcpy(mac, a + 8, 6);
    return true;
}

static inline uint16_t pv_ip_checksum(const uint8_t* h, uint32_t len) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < len; i += 2) sum += pv_get16(h + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IPv4 + UDP headers (no UDP checksum) for `payload_len` bytes from us to the gateway. */
static inline void pv_ip_udp_header(uint8_t* h, uint16_t sport, uint16_t dport, uint16_t payload_len) {
    memset(h, 0, PV_IP_HLEN + PV_UDP_HLEN);
    h[0] = 0x45;
    pv_put16(h + 2, (uint16_t)(PV_IP_HLEN + PV_UDP_HLEN + payload_len));
    pv_put16(h + 4, 0x1234);
    h[8] = 64;
    h[9] = 17;
    memcpy(h + 12, pv_guest_ip, 4);
    memcpy(h + 16, pv_gateway_ip, 4);
    pv_put16(h + 10, pv_ip_checksum(h, PV_IP_HLEN));
    uint8_t* u = h + PV_IP_HLEN;
    pv_put16(u, sport);
    pv_put16(u + 2, dport);
    pv_put16(u + 4, (uint16_t)(PV_UDP_HLEN + payload_len));
}

/* The UDP payload of `f` if it is a datagram from the gateway's `sport` to our `dport`. */
static inline const uint8_t* pv_udp_payload(const uint8_t* f, long len, uint16_t sport, uint16_t dport, uint32_t* plen) {
    if (len < PV_ETH_HLEN + PV_IP_HLEN + PV_UDP_HLEN || pv_get16(f + 12) != PV_ETH_IPV4) return 0;
    const uint8_t* ip = f + PV_ETH_HLEN;
    uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
    if (ip[9] != 17 || ihl < PV_IP_HLEN || len < (long)(PV_ETH_HLEN + ihl + PV_UDP_HLEN)) return 0;
    const uint8_t* u = ip + ihl;
    if (pv_get16(u) != sport || pv_get16(u + 2) != dport) return 0;
    uint32_t ulen = pv_get16(u + 4);
    if (ulen < PV_UDP_HLEN || PV_ETH_HLEN + ihl + ulen > (uint32_t)len) return 0;
    *plen = ulen - PV_UDP_HLEN;
    return u + PV_UDP_HLEN;
}

/* "port=N" on the kernel command line (own-guest ABI: NUL-terminated at 0x9000), else 0. */
static inline uint16_t pv_cmdline_port(void) {
    const char* s = (const char*)(uintptr_t)0x9000;
    for (; *s; ++s) {
        if (strncmp(s, "port=", 5) != 0) continue;
        char digits[8] = "";
        unsigned i = 0;
        for (s += 5; i + 1 < sizeof digits && s[i] >= '0' && s[i] <= '9'; ++i) digits[i] = s[i];
        uint64_t v = 0;
        return pv_atou(digits, &v) && v < 65536 ? (uint16_t)v : 0;
    }
    return 0;
}
