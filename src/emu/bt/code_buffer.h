#pragma once
/// Executable memory for translated blocks of one vCPU: shared memory mapped twice, once read+write
/// (where code is emitted) and once read+execute (where it runs), so no page is ever writable and
/// executable at once and emitting needs no mprotect. Bump-allocated; when it is full the owner
/// flushes everything (epoch() changes, every translation made before is dropped). Translated
/// code must be position-independent between the two views: relative jumps inside a block,
/// absolute addresses only for things outside the buffer.
#include <cstddef>
#include <cstdint>

namespace popek::emu::bt {

class CodeBuffer {
public:
    explicit CodeBuffer(size_t size);
    ~CodeBuffer();
    CodeBuffer(const CodeBuffer&) = delete;
    CodeBuffer& operator=(const CodeBuffer&) = delete;

    bool ok() const { return m_exec != nullptr; }
    /// The writable view of [cursor, cursor + max); nullptr when the buffer lacks that much room
    /// (flush() and retry).
    uint8_t* begin_write(size_t max);
    /// Keeps `used` bytes of what begin_write() returned; returns their executable address.
    const uint8_t* end_write(size_t used);
    /// Drops every translation: the cursor goes back to the start and the epoch changes.
    void flush();
    uint32_t epoch() const { return m_epoch; }
    /// Read by translated code before it jumps into another translation.
    size_t used() const { return m_cursor; }
    size_t capacity() const { return m_size; }
    /// The executable address of a byte of the writable view.
    const uint8_t* exec_address(const uint8_t* writable) const { return m_exec + (writable - m_write); }

private:
    /// Maps in the pages of both views up to `end` ahead of use, a chunk at a time.
    void populate(size_t end);

    uint8_t* m_write = nullptr;
    uint8_t* m_exec = nullptr;
    size_t m_size = 0;
    size_t m_cursor = 0;
    size_t m_populated = 0;   ///< both views' pages below this are mapped in (populate())
    bool m_populate_ok = true;
    uint32_t m_epoch = 1;
};

}  // namespace popek::emu::bt
