#pragma once
/// A byte ring shared with a guest: a power-of-two buffer and free-running 32-bit consumer and
/// producer indices, as the store ring (io/xs_wire.h) and the console ring (io/console.h) use.
/// popek is one side, the guest the other and possibly hostile: each step reads both indices once,
/// and a ring claiming more bytes in flight than it holds is reported as corrupt (nullopt), never
/// read or written out of bounds. Every write to the guest's page (bytes, either index) is reported
/// to `writes` (not owned, may be null): the bytes before the index that publishes them.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "pv/ram_writes.h"

namespace popek::pv {

class ByteRing {
public:
    ByteRing(char* data, uint32_t size, uint32_t* cons, uint32_t* prod, const RamWrites* writes = nullptr)
        : m_data(data), m_size(size), m_cons(cons), m_prod(prod), m_writes(writes) {}

    /// Consumer side: copies up to out.size() bytes out and advances the consumer index.
    std::optional<size_t> read(std::span<uint8_t> out) {
        auto w = window();
        if (!w) return std::nullopt;
        size_t total = std::min<size_t>(w->used, out.size());
        copy(w->cons, total, [&](size_t done, uint32_t off, size_t n) { std::memcpy(out.data() + done, m_data + off, n); });
        // Release: the bytes are copied before the producer may reuse their slots.
        store(m_cons, w->cons + static_cast<uint32_t>(total));
        if (total != 0) report(m_cons, sizeof(uint32_t));
        return total;
    }

    /// Producer side: copies as much of `in` as fits and advances the producer index.
    std::optional<size_t> write(std::span<const uint8_t> in) {
        auto w = window();
        if (!w) return std::nullopt;
        size_t total = std::min<size_t>(in.size(), m_size - w->used);
        copy(w->prod, total, [&](size_t done, uint32_t off, size_t n) {
            std::memcpy(m_data + off, in.data() + done, n);
            report(m_data + off, n);
        });
        // Release: the bytes are visible before the new producer index.
        store(m_prod, w->prod + static_cast<uint32_t>(total));
        if (total != 0) report(m_prod, sizeof(uint32_t));
        return total;
    }

    /// Bytes in flight, or nullopt if the indices are impossible.
    std::optional<uint32_t> used() {
        auto w = window();
        return w ? std::optional<uint32_t>(w->used) : std::nullopt;
    }

private:
    struct Window {
        uint32_t cons, prod, used;
    };
    std::optional<Window> window() {
        uint32_t cons = std::atomic_ref<uint32_t>(*m_cons).load(std::memory_order_acquire);
        uint32_t prod = std::atomic_ref<uint32_t>(*m_prod).load(std::memory_order_acquire);
        if (prod - cons > m_size) return std::nullopt;
        return Window{cons, prod, prod - cons};
    }
    template <class F>
    void copy(uint32_t start, size_t total, F&& chunk) {
        size_t done = 0;
        while (done < total) {
            uint32_t off = (start + static_cast<uint32_t>(done)) & (m_size - 1);
            size_t n = std::min<size_t>(total - done, m_size - off);
            chunk(done, off, n);
            done += n;
        }
    }
    static void store(uint32_t* idx, uint32_t v) {
        std::atomic_ref<uint32_t>(*idx).store(v, std::memory_order_release);
    }
    void report(const void* host, size_t len) const {
        if (m_writes) m_writes->wrote(host, len);
    }

    char* m_data;
    uint32_t m_size;
    uint32_t* m_cons;
    uint32_t* m_prod;
    const RamWrites* m_writes;
};

}  // namespace popek::pv
