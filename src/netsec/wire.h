#pragma once
/// popek secure networking, wire format (docs/secure-net.md). Portable: compiled into popek (host)
/// and into popek-os ring-3 programs (freestanding, no C++ library), so only <stdint.h>/<stddef.h>.
///
/// Every packet travels as the payload of one Ethernet frame with ethertype 0x88B5 (IEEE 802
/// "local experimental ethertype 1"). All integers are little endian; there is no padding.
#include <stddef.h>
#include <stdint.h>

namespace popek::netsec {

inline constexpr uint16_t kEtherType = 0x88B5;
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kKeyBytes = 32;     ///< X25519 public/secret key (crypto_box, crypto_scalarmult)
inline constexpr size_t kTagBytes = 16;     ///< crypto_aead_xchacha20poly1305_ietf_ABYTES
inline constexpr size_t kNonceBytes = 24;   ///< crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
inline constexpr size_t kMaxPacket = 1500;  ///< one Ethernet payload (MTU 1500)

enum class PacketType : uint8_t { Hello = 1, Welcome = 2, Data = 3 };

/// Handshake message 1, initiator -> responder (Noise KK-like "e, es, ss"), 88 bytes:
///   [0] type = 1  [1] version = 1  [2..3] reserved, zero
///   [4..7]   sender_index: the initiator's session index (random u32), echoed in Welcome
///   [8..39]  initiator static public key (the identity the responder checks against its policy)
///   [40..71] initiator ephemeral public key
///   [72..87] AEAD tag over the empty message, additional data = bytes 0..71
namespace hello {
inline constexpr size_t kSenderIndex = 4, kStatic = 8, kEphemeral = 40, kTag = 72, kSize = 88;
}

/// Handshake message 2, responder -> initiator ("e, ee, se"), 60 bytes:
///   [0] type = 2  [1] version = 1  [2..3] reserved, zero
///   [4..7]   sender_index: the responder's session index (random u32)
///   [8..11]  receiver_index: the initiator's sender_index from Hello
///   [12..43] responder ephemeral public key
///   [44..59] AEAD tag over the empty message, additional data = bytes 0..43
namespace welcome {
inline constexpr size_t kSenderIndex = 4, kReceiverIndex = 8, kEphemeral = 12, kTag = 44, kSize = 60;
}

/// Transport data, either direction, 32..1500 bytes:
///   [0] type = 3  [1] version = 1  [2..3] reserved, zero
///   [4..7]   receiver_index: the session index the receiver chose in the handshake
///   [8..15]  counter (u64): 0, 1, 2, ... per direction; nonce = counter (LE) padded with 16 zero bytes
///   [16..]   XChaCha20-Poly1305-IETF ciphertext of the message, then its 16-byte tag;
///            additional data = bytes 0..15. An empty message is a keepalive (key confirmation).
namespace data {
inline constexpr size_t kReceiverIndex = 4, kCounter = 8, kHeader = 16;
inline constexpr size_t kMaxMessage = kMaxPacket - kHeader - kTagBytes;   // 1468
}

inline void put_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t get_le32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
inline uint64_t get_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace popek::netsec
