#pragma once
/// The driver-domain protocol between popek (the VMM) and `popek backend` (a driver domain
/// process): one message per datagram on an AF_UNIX SOCK_SEQPACKET socketpair (the child gets its
/// end as an inherited fd). docs/pv.md "Driver domain" describes it; in short:
///
///   VMM → child   BlkifRequest       one blkif_request_t (io/blkif.h) taken from the guest's ring
///   child → VMM   GrantCopy          up to 11 copy ops {ref, offset, length, to_guest}, then the
///                                    bytes of every to_guest op (GNTTABOP_copy, grant_table.h)
///   VMM → child   GrantCopyResult    int16 GNTST_* status, then (status okay) the bytes of every
///                                    from-guest op, in op order
///   child → VMM   BlkifResponse      one blkif_response_t for the request
///
/// Every message starts with a MessageHeader. Both sides treat the other as hostile: parse()
/// checks the magic, the type, the declared length against the datagram, and each type's layout
/// (op counts, offset + length within one page, the data length the ops imply) before anything
/// is used. Host byte order (both ends are the same binary on the same host).
#include <cstdint>
#include <span>
#include <vector>

#include "pv/xen_abi.h"
#include "util/result.h"

namespace popek::ddom {

inline constexpr uint32_t kMagic = 0x4d4f4444;  // "DDOM"
/// The largest batch of one GrantCopy: a blkif request's segments.
inline constexpr uint16_t kMaxCopyOps = BLKIF_MAX_SEGMENTS_PER_REQUEST;

enum class MessageType : uint16_t {
    BlkifRequest = 1,
    BlkifResponse = 2,
    GrantCopy = 3,
    GrantCopyResult = 4,
};

struct MessageHeader {
    uint32_t magic;
    uint16_t type;
    uint16_t count;    ///< GrantCopy: number of ops; 0 otherwise
    uint32_t length;   ///< payload bytes after the header
    uint32_t reserved; ///< 0
};
static_assert(sizeof(MessageHeader) == 16);

/// One op of a GrantCopy message (the wire form of pv::GrantCopy).
struct CopyOp {
    uint32_t ref;
    uint16_t offset;
    uint16_t length;
    uint8_t to_guest;  ///< 0 or 1
    uint8_t pad[3];
};
static_assert(sizeof(CopyOp) == 12);

/// The largest datagram either side sends or accepts.
inline constexpr size_t kMaxMessage = sizeof(MessageHeader) + kMaxCopyOps * sizeof(CopyOp) +
                                      size_t{kMaxCopyOps} * pv::kXenPageSize;

/// A checked message. `data` views the datagram it was parsed from: keep that alive.
struct Message {
    MessageType type;
    std::vector<CopyOp> ops;              ///< GrantCopy (copied out of the datagram, aligned)
    std::span<const uint8_t> data;        ///< GrantCopy: to_guest bytes; GrantCopyResult: from-guest bytes
    blkif_request_t request{};            ///< BlkifRequest
    blkif_response_t response{};          ///< BlkifResponse
    int16_t status = 0;                   ///< GrantCopyResult
};

/// Checks one datagram; the error says what is wrong with it.
Result<Message> parse(std::span<const uint8_t> datagram);

// ---- encoders (the datagram to send)
std::vector<uint8_t> encode_request(const blkif_request_t& req);
std::vector<uint8_t> encode_response(const blkif_response_t& rsp);
/// `data`: the bytes of the to_guest ops, concatenated in op order.
std::vector<uint8_t> encode_copy(std::span<const CopyOp> ops, std::span<const uint8_t> data);
/// `data`: the bytes of the from-guest ops (only when status is GNTST_okay).
std::vector<uint8_t> encode_copy_result(int16_t status, std::span<const uint8_t> data);

/// Bytes the to_guest (or from-guest) ops of a batch carry.
size_t op_bytes(std::span<const CopyOp> ops, bool to_guest);

}  // namespace popek::ddom
