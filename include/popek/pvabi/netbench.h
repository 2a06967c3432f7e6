/* popek/pvabi/netbench.h - the byte stream of the secure-net throughput benchmark: popek-os's
 * `netbench KEY BYTES` sends it over one channel, `popek net-peer --recv-bytes BYTES` receives,
 * verifies and acknowledges it (docs/secure-net.md "Throughput guest -> host").
 *
 * Plain C, no libc: included by popek (host) and by popek-os programs.
 *
 * Data: BYTES bytes cut into messages of NETBENCH_MESSAGE bytes (the last one shorter). Message k
 * (k = 0, 1, ...) is netbench_byte(k, j) for j = 0 .. length-1: bytes 0..3 are k (little endian,
 * so a receiver reads the sequence number and counts a gap as lost messages), the rest a pattern
 * of k and j (so a message in the wrong place, or altered, fails the byte check).
 *
 * Flow control: each time the receiver has accounted for another NETBENCH_ACK_EVERY messages,
 * and after the last one, it answers with an acknowledgement of NETBENCH_ACK_BYTES bytes: the
 * number of messages accounted for (u64, little endian: received, or skipped by a gap in the
 * sequence numbers and counted as lost). The sender keeps at most NETBENCH_WINDOW messages
 * unacknowledged, so it cannot overrun the receiver's datagram queue (Linux
 * net.unix.max_dgram_qlen defaults to 10) or the rings between. There is no retransmission: a
 * lost message is counted by the receiver (and the run fails); if the last ones are lost, the
 * sender waits for an acknowledgement that never comes and the receiver times out. */
#ifndef POPEK_PVABI_NETBENCH_H
#define POPEK_PVABI_NETBENCH_H

#include <stdint.h>

enum {
    NETBENCH_MESSAGE = 1400,  /* bytes per message (the last one of the stream may be shorter) */
    NETBENCH_WINDOW = 8,      /* messages the sender may have unacknowledged */
    NETBENCH_ACK_EVERY = 4,   /* the receiver acknowledges every this many messages */
    NETBENCH_ACK_BYTES = 8    /* an acknowledgement: u64 messages received in order */
};

/* Byte j of message k. */
static inline uint8_t netbench_byte(uint64_t k, uint32_t j) {
    if (j < 4) return (uint8_t)(k >> (8 * j));
    return (uint8_t)((k * 31u + j * 7u + (k >> 8)) ^ 0x5au);
}

/* Number of messages of a stream of `bytes` bytes, and the length of message k. */
static inline uint64_t netbench_messages(uint64_t bytes) { return (bytes + (uint64_t)NETBENCH_MESSAGE - 1) / (uint64_t)NETBENCH_MESSAGE; }
static inline uint32_t netbench_length(uint64_t bytes, uint64_t k) {
    uint64_t left = bytes - k * NETBENCH_MESSAGE;
    return (uint32_t)(left < (uint64_t)NETBENCH_MESSAGE ? left : (uint64_t)NETBENCH_MESSAGE);
}

#endif
