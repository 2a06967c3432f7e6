#pragma once
/// How secure-net packets ride in Ethernet frames (docs/secure-net.md "Framing"). Portable.
///
/// Frame: Ethernet II header (IEEE 802.3 clause 3.2: destination MAC, source MAC, ethertype
/// 0x88B5, big endian), then a 2-byte big-endian packet length, then the packet. Bytes after the
/// packet (padding a link adds to reach 60 bytes) are ignored.
#include <stddef.h>
#include <stdint.h>

#include "netsec/wire.h"

namespace popek::netsec {

inline constexpr size_t kMacBytes = 6;
inline constexpr size_t kFrameHeader = 2 * kMacBytes + 2 + 2;       ///< MACs, ethertype, length
inline constexpr size_t kMaxFrame = kFrameHeader + kMaxPacket;      ///< 1518
inline constexpr uint8_t kBroadcastMac[kMacBytes] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/// Writes the frame header for a packet of `packet_len` bytes at `frame` (the packet follows at
/// frame + kFrameHeader).
inline void frame_header(uint8_t* frame, const uint8_t dst[kMacBytes], const uint8_t src[kMacBytes], size_t packet_len) {
    for (size_t i = 0; i < kMacBytes; ++i) {
        frame[i] = dst[i];
        frame[kMacBytes + i] = src[i];
    }
    frame[12] = static_cast<uint8_t>(kEtherType >> 8);
    frame[13] = static_cast<uint8_t>(kEtherType & 0xff);
    frame[14] = static_cast<uint8_t>(packet_len >> 8);
    frame[15] = static_cast<uint8_t>(packet_len & 0xff);
}

/// The packet inside a received frame: false when the frame is not ours (other ethertype) or its
/// length field points past the frame or beyond kMaxPacket.
inline bool frame_packet(const uint8_t* frame, size_t frame_len, const uint8_t** packet, size_t* packet_len) {
    if (frame_len < kFrameHeader) return false;
    if (frame[12] != (kEtherType >> 8) || frame[13] != (kEtherType & 0xff)) return false;
    size_t len = static_cast<size_t>(frame[14]) << 8 | frame[15];
    if (len > kMaxPacket || len > frame_len - kFrameHeader) return false;
    *packet = frame + kFrameHeader;
    *packet_len = len;
    return true;
}

/// A locally administered unicast MAC (bit 1 of the first byte set, bit 0 clear) from a public key.
inline void mac_from_key(uint8_t mac[kMacBytes], const uint8_t public_key[kKeyBytes]) {
    mac[0] = 0x02;
    for (size_t i = 1; i < kMacBytes; ++i) mac[i] = public_key[i - 1];
}

}  // namespace popek::netsec
