#pragma once
/// GDB Remote Serial Protocol framing (GDB manual, Appendix E.1 "Overview"): `$payload#xx` packets
/// with a modulo-256 checksum, `}` escapes (byte ^ 0x20), `+`/`-` acknowledgments and the 0x03
/// interrupt byte. RspDecoder is fed the bytes a client sends, in any pieces, and yields events;
/// it never trusts the client: payloads are capped, garbage between packets is skipped.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace popek::gdb {

/// Longest payload accepted (and announced as PacketSize in qSupported).
inline constexpr size_t kMaxPacket = 0x4000;

struct RspEvent {
    enum Kind : uint8_t {
        Packet,        ///< a well-formed packet: acknowledge with '+' and handle `payload`
        BadChecksum,   ///< a packet whose checksum does not match: answer '-'
        Oversized,     ///< longer than kMaxPacket: dropped, answered '-'
        Interrupt,     ///< 0x03 outside a packet (Ctrl-C)
        Ack,           ///< '+'
        Nack,          ///< '-': the client asks for the last reply again
    } kind;
    std::string payload;   ///< unescaped (Packet only)
};

class RspDecoder {
public:
    /// Consumes bytes until an event is complete; `used` gets how many were consumed (the rest
    /// must be fed again). nullopt: every byte was consumed and no event is complete yet.
    std::optional<RspEvent> feed(std::span<const uint8_t> bytes, size_t& used);

private:
    enum class State : uint8_t { Idle, Payload, Escape, Check1, Check2 };
    State m_state = State::Idle;
    std::string m_payload;
    uint8_t m_sum = 0;
    uint8_t m_check = 0;
    bool m_oversized = false;
};

/// `$payload#xx` with `#`, `$`, `}` and `*` escaped.
std::string rsp_frame(std::string_view payload);
/// Lower-case hex of `bytes`.
std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view text);
/// Parses hex digits into bytes; false on an odd length or a non-hex digit.
bool from_hex(std::string_view hex, std::string& out);
/// Parses a hex number (at most 16 digits); nullopt on anything else.
std::optional<uint64_t> parse_hex(std::string_view hex);

}  // namespace popek::gdb
