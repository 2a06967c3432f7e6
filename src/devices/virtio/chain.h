#pragma once
/// One popped descriptor chain (2.7.5, 2.7.13.2): the device-readable buffers first, then the
/// device-writable ones, every buffer already checked to lie inside guest RAM.
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::devices::virtio {

struct Segment {
    memory::GuestAddress addr;
    uint32_t len;
};

/// A run of guest buffers seen as one byte stream.
class Segments {
public:
    void clear() {
        m_segments.clear();
        m_total = 0;
    }
    void push(Segment s) {
        m_segments.push_back(s);
        m_total += s.len;
    }
    uint64_t size() const { return m_total; }
    bool empty() const { return m_segments.empty(); }
    std::span<const Segment> list() const { return m_segments; }

    /// Copies `out.size()` bytes starting at stream offset `offset`; fails past the end.
    Result<void> read(const memory::GuestMemory& mem, uint64_t offset, std::span<uint8_t> out) const;
    /// Copies `in` to stream offset `offset`; fails past the end.
    Result<void> write(const memory::GuestMemory& mem, uint64_t offset, std::span<const uint8_t> in) const;
    /// Host iovecs for stream bytes [offset, offset+len), for preadv/pwritev/writev.
    Result<std::vector<iovec>> iovecs(const memory::GuestMemory& mem, uint64_t offset, uint64_t len) const;

private:
    /// Calls fn(host span) for each piece of [offset, offset+len).
    template <class Fn>
    Result<void> for_each(const memory::GuestMemory& mem, uint64_t offset, uint64_t len, Fn&& fn) const;

    std::vector<Segment> m_segments;
    uint64_t m_total = 0;
};

struct Chain {
    uint16_t head = 0;        ///< descriptor index the used ring reports back (2.7.8)
    Segments readable;
    Segments writable;
    void clear() {
        readable.clear();
        writable.clear();
    }
};

}  // namespace popek::devices::virtio
