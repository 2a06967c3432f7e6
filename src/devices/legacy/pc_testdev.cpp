#include "devices/legacy/pc_testdev.h"

#include <algorithm>

namespace popek::devices::legacy {
namespace {

/// Bytes [offset, offset + data.size()) of `bytes` into `data`; bytes past the end read 0xff.
void copy_out(std::span<const uint8_t> bytes, uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < bytes.size() ? bytes[offset + i] : 0xff;
}

/// The reverse; bytes past the end are dropped.
void copy_in(std::span<uint8_t> bytes, uint64_t offset, std::span<const uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i)
        if (offset + i < bytes.size()) bytes[offset + i] = data[i];
}

}  // namespace

void PcTestdevScratch::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    copy_out(m_bytes, offset, data);
}

void PcTestdevScratch::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    copy_in(m_bytes, offset, data);
}

void PcTestdevIrqLines::write(uint64_t offset, std::span<const uint8_t> data) {
    // One line per port: a wider access sets the lines of the ports it covers.
    for (size_t i = 0; i < data.size() && offset + i < kSize; ++i)
        m_set_line(static_cast<uint32_t>(offset + i), data[i] != 0);
}

void PcTestdevIomem::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    copy_out(m_bytes, offset, data);
}

void PcTestdevIomem::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    copy_in(m_bytes, offset, data);
}

}  // namespace popek::devices::legacy
