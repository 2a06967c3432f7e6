#pragma once
/// Executable memory for translated blocks: one anonymous mapping per vCPU, bump-allocated, kept
/// W^X (the pages being written are RW only while a block is emitted, then RX again). When it is
/// full the owner flushes everything (epoch() changes, every translation made before is dropped).
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace popek::emu::bt {

class CodeBuffer {
public:
    explicit CodeBuffer(size_t size);
    ~CodeBuffer();
    CodeBuffer(const CodeBuffer&) = delete;
    CodeBuffer& operator=(const CodeBuffer&) = delete;

    bool ok() const { return m_base != nullptr; }
    /// Opens [cursor, cursor + max) for writing; nullptr when the buffer lacks that much room
    /// (flush() and retry) or mprotect failed.
    uint8_t* begin_write(size_t max);
    /// Seals what begin_write() opened (RX again) and keeps `used` bytes of it. False: the pages
    /// could not be made executable again; the buffer was flushed and nothing in it may run.
    bool end_write(size_t used);
    /// Drops every translation: the cursor goes back to the start and the epoch changes.
    void flush();
    uint32_t epoch() const { return m_epoch; }
    /// Read by translated code before it jumps into another translation.
    const uint32_t* epoch_ptr() const { return &m_epoch; }
    size_t used() const { return m_cursor; }
    size_t capacity() const { return m_size; }

private:
    uint8_t* m_base = nullptr;
    size_t m_size = 0;
    size_t m_cursor = 0;
    size_t m_open_begin = 0, m_open_end = 0;   ///< page-aligned range made RW by begin_write
    uint32_t m_epoch = 1;
};

}  // namespace popek::emu::bt
