#include "gdb/rsp_framing.h"

namespace popek::gdb {
namespace {

int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::optional<RspEvent> RspDecoder::feed(std::span<const uint8_t> bytes, size_t& used) {
    used = 0;
    while (used < bytes.size()) {
        const uint8_t b = bytes[used++];
        switch (m_state) {
            case State::Idle:
                if (b == '$') {
                    m_state = State::Payload;
                    m_payload.clear();
                    m_sum = 0;
                    m_oversized = false;
                } else if (b == 0x03) {
                    return RspEvent{RspEvent::Interrupt, {}};
                } else if (b == '+') {
                    return RspEvent{RspEvent::Ack, {}};
                } else if (b == '-') {
                    return RspEvent{RspEvent::Nack, {}};
                }
                break;   // anything else between packets is noise
            case State::Payload:
            case State::Escape:
                if (b == '#' && m_state == State::Payload) {
                    m_state = State::Check1;
                    break;
                }
                m_sum = static_cast<uint8_t>(m_sum + b);
                if (m_state == State::Payload && b == '}') {
                    m_state = State::Escape;
                    break;
                }
                if (m_payload.size() >= kMaxPacket) {
                    m_oversized = true;
                } else {
                    m_payload.push_back(static_cast<char>(m_state == State::Escape ? (b ^ 0x20) : b));
                }
                m_state = State::Payload;
                break;
            case State::Check1:
            case State::Check2: {
                const int d = hex_digit(b);
                if (d < 0) {
                    // Not a checksum: the packet is void; resynchronise on the next '$'.
                    m_state = State::Idle;
                    return RspEvent{RspEvent::BadChecksum, {}};
                }
                if (m_state == State::Check1) {
                    m_check = static_cast<uint8_t>(d << 4);
                    m_state = State::Check2;
                    break;
                }
                m_check = static_cast<uint8_t>(m_check | d);
                m_state = State::Idle;
                if (m_oversized) return RspEvent{RspEvent::Oversized, {}};
                if (m_check != m_sum) return RspEvent{RspEvent::BadChecksum, {}};
                return RspEvent{RspEvent::Packet, std::move(m_payload)};
            }
        }
    }
    return std::nullopt;
}

std::string rsp_frame(std::string_view payload) {
    std::string out = "$";
    uint8_t sum = 0;
    for (char ch : payload) {
        auto c = static_cast<uint8_t>(ch);
        if (c == '#' || c == '$' || c == '}' || c == '*') {
            out.push_back('}');
            sum = static_cast<uint8_t>(sum + '}');
            c ^= 0x20;
        }
        out.push_back(static_cast<char>(c));
        sum = static_cast<uint8_t>(sum + c);
    }
    out.push_back('#');
    out.push_back(kHex[sum >> 4]);
    out.push_back(kHex[sum & 15]);
    return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

std::string to_hex(std::string_view text) {
    return to_hex(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

bool from_hex(std::string_view hex, std::string& out) {
    if (hex.size() % 2) return false;
    out.clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hex_digit(static_cast<uint8_t>(hex[i])), lo = hex_digit(static_cast<uint8_t>(hex[i + 1]));
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>((hi << 4) | lo));
    }
    return true;
}

std::optional<uint64_t> parse_hex(std::string_view hex) {
    if (hex.empty() || hex.size() > 16) return std::nullopt;
    uint64_t v = 0;
    for (char c : hex) {
        const int d = hex_digit(static_cast<uint8_t>(c));
        if (d < 0) return std::nullopt;
        v = (v << 4) | static_cast<uint64_t>(d);
    }
    return v;
}

}  // namespace popek::gdb
