#pragma once
/// The snapshot's byte codec (docs/snapshot.md): little-endian fixed-width integers, booleans as
/// one byte 0/1, byte strings with a u32 length. The Writer appends to a buffer; the Reader reads
/// a hostile buffer: every read is bounded, the first failure sticks (later reads return zeros)
/// and finish() turns it, or bytes left over, into one clear error.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace popek::snapshot {

class Writer {
public:
    void u8(uint8_t v) { m_buf.push_back(v); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    void u16(uint16_t v) { put_le(v, 2); }
    void u32(uint32_t v) { put_le(v, 4); }
    void u64(uint64_t v) { put_le(v, 8); }
    void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
    void bytes(std::span<const uint8_t> b) { m_buf.insert(m_buf.end(), b.begin(), b.end()); }
    /// u32 length, then the bytes.
    void str(std::string_view s) {
        u32(static_cast<uint32_t>(s.size()));
        bytes(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    }
    std::vector<uint8_t>& buffer() { return m_buf; }
    const std::vector<uint8_t>& buffer() const { return m_buf; }

private:
    void put_le(uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) m_buf.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    std::vector<uint8_t> m_buf;
};

class Reader {
public:
    explicit Reader(std::span<const uint8_t> in) : m_in(in) {}

    uint8_t u8() { return static_cast<uint8_t>(get_le(1)); }
    uint16_t u16() { return static_cast<uint16_t>(get_le(2)); }
    uint32_t u32() { return static_cast<uint32_t>(get_le(4)); }
    uint64_t u64() { return get_le(8); }
    int64_t i64() { return static_cast<int64_t>(u64()); }
    /// One byte that must be 0 or 1.
    bool boolean() {
        const uint8_t v = u8();
        if (v > 1) invalid("a boolean is {}", v);
        return v == 1;
    }
    /// Exactly out.size() bytes.
    void bytes(std::span<uint8_t> out) {
        if (out.empty()) return;   // (an empty span's data() may be null: no memset/memcpy on it)
        if (!take(out.size())) {
            std::memset(out.data(), 0, out.size());
            return;
        }
        std::memcpy(out.data(), m_in.data() + m_pos - out.size(), out.size());
    }
    /// A u32-length string of at most `max` bytes.
    std::string str(size_t max) {
        const uint32_t n = u32();
        if (n > max) {
            invalid("a string of {} bytes (at most {})", n, max);
            return {};
        }
        if (!take(n)) return {};
        return std::string(reinterpret_cast<const char*>(m_in.data() + m_pos - n), n);
    }
    /// A value read earlier broke a rule of its field (out of range, inconsistent): fails the read.
    template <class... Args>
    void invalid(fmt::format_string<Args...> f, Args&&... args) {
        if (!m_error.empty()) return;
        m_error = fmt::format(f, std::forward<Args>(args)...);
    }
    /// `value` <= `max`, else the read fails naming `what`.
    template <class T>
    T bounded(T value, T max, std::string_view what) {
        if (value > max) {
            invalid("{} is {} (at most {})", what, static_cast<uint64_t>(value), static_cast<uint64_t>(max));
            return T{};
        }
        return value;
    }
    bool ok() const { return m_error.empty(); }
    size_t remaining() const { return m_in.size() - m_pos; }
    /// The read as a whole: the first failure, or bytes left unread, is an error naming `what`.
    Result<void> finish(std::string_view what) const {
        if (!m_error.empty()) return fail("{}: {}", what, m_error);
        if (m_pos != m_in.size()) return fail("{}: {} bytes left over", what, m_in.size() - m_pos);
        return {};
    }

private:
    bool take(size_t n) {
        if (!m_error.empty()) return false;
        if (n > m_in.size() - m_pos) {
            m_error = fmt::format("truncated: {} bytes wanted at offset {}, {} there", n, m_pos, m_in.size() - m_pos);
            return false;
        }
        m_pos += n;
        return true;
    }
    uint64_t get_le(unsigned n) {
        if (!take(n)) return 0;
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= uint64_t{m_in[m_pos - n + i]} << (8 * i);
        return v;
    }
    std::span<const uint8_t> m_in;
    size_t m_pos = 0;
    std::string m_error;
};

}  // namespace popek::snapshot
