#include "emu/bt/code_buffer.h"

#include <sys/mman.h>

namespace popek::emu::bt {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t page_down(size_t v) { return v & ~(kPage - 1); }
constexpr size_t page_up(size_t v) { return (v + kPage - 1) & ~(kPage - 1); }

}  // namespace

CodeBuffer::CodeBuffer(size_t size) : m_size(page_up(size)) {
    void* p = ::mmap(nullptr, m_size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) m_base = static_cast<uint8_t*>(p);
}

CodeBuffer::~CodeBuffer() {
    if (m_base) ::munmap(m_base, m_size);
}

uint8_t* CodeBuffer::begin_write(size_t max) {
    if (!m_base || m_cursor + max > m_size) return nullptr;
    m_open_begin = page_down(m_cursor);
    m_open_end = page_up(m_cursor + max);
    if (::mprotect(m_base + m_open_begin, m_open_end - m_open_begin, PROT_READ | PROT_WRITE) != 0) return nullptr;
    return m_base + m_cursor;
}

bool CodeBuffer::end_write(size_t used) {
    // Keep translations 16-byte aligned (branch targets of the dispatcher and of chains).
    m_cursor = (m_cursor + used + 15) & ~size_t{15};
    if (m_cursor > m_size) m_cursor = m_size;
    if (::mprotect(m_base + m_open_begin, m_open_end - m_open_begin, PROT_READ | PROT_EXEC) == 0) return true;
    flush();
    return false;
}

void CodeBuffer::flush() {
    m_cursor = 0;
    ++m_epoch;
    if (m_epoch == 0) m_epoch = 1;   // 0 marks "never translated" in Block
}

}  // namespace popek::emu::bt
