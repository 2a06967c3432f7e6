#include "emu/bt/code_buffer.h"

#include <sys/mman.h>

#include <algorithm>

namespace popek::emu::bt {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t page_up(size_t v) { return (v + kPage - 1) & ~(kPage - 1); }

}  // namespace

CodeBuffer::CodeBuffer(size_t size) : m_size(page_up(size)) {
    // Shared anonymous memory, aliased by mremap(old_size 0): no file and no fd. The kernel names
    // such a mapping "/dev/zero (deleted)", which perf treats as anonymous memory, so that
    // `--perf-map`'s /tmp/perf-PID.map names the translated blocks (a memfd view would be taken
    // for a file and sampled by file offset).
    void* w = ::mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w == MAP_FAILED) return;
    void* x = ::mremap(w, 0, m_size, MREMAP_MAYMOVE);
    if (x == MAP_FAILED || ::mprotect(x, m_size, PROT_READ | PROT_EXEC) != 0) {
        if (x != MAP_FAILED) ::munmap(x, m_size);
        ::munmap(w, m_size);
        return;
    }
    m_write = static_cast<uint8_t*>(w);
    m_exec = static_cast<uint8_t*>(x);
}

CodeBuffer::~CodeBuffer() {
    if (m_write) ::munmap(m_write, m_size);
    if (m_exec) ::munmap(m_exec, m_size);
}

uint8_t* CodeBuffer::begin_write(size_t max) {
    if (!ok() || m_cursor + max > m_size) return nullptr;
    if (m_cursor + max > m_populated) populate(m_cursor + max);
    return m_write + m_cursor;
}

void CodeBuffer::populate(size_t end) {
    // Each first touch of a page of either view is a page fault (where popek itself runs in a
    // VM, a costly one: ~14 us measured on a PVM host); one madvise per chunk fills the page
    // tables of both views instead. Kernels before 5.14 refuse the advice: faults then.
    constexpr int kPopulateRead = 22, kPopulateWrite = 23;   // MADV_POPULATE_READ/WRITE, Linux 5.14
    constexpr size_t kChunk = size_t{1} << 20;
    while (m_populated < end && m_populate_ok) {
        const size_t len = std::min(kChunk, m_size - m_populated);
        m_populate_ok = ::madvise(m_write + m_populated, len, kPopulateWrite) == 0 &&
                        ::madvise(m_exec + m_populated, len, kPopulateRead) == 0;
        m_populated += len;
    }
    if (!m_populate_ok) m_populated = m_size;   // stop trying
}

const uint8_t* CodeBuffer::end_write(size_t used) {
    const uint8_t* code = m_exec + m_cursor;
    // Keep translations 16-byte aligned (entry points of the dispatcher and of chained jumps).
    m_cursor = (m_cursor + used + 15) & ~size_t{15};
    if (m_cursor > m_size) m_cursor = m_size;
    // Stores through the other view are coherent for instruction fetch on x86 (SDM Vol. 3A
    // 8.1.3: a jump to the code after writing it is enough on one processor, and each vCPU runs
    // only code it emitted itself).
    return code;
}

void CodeBuffer::flush() {
    m_cursor = 0;
    ++m_epoch;
    if (m_epoch == 0) m_epoch = 1;   // 0 marks "never translated" in Block
}

}  // namespace popek::emu::bt
