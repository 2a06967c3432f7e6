#include "devices/legacy/pc_testdev.h"

namespace popek::devices::legacy {

void PcTestdevBytes::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < m_bytes.size() ? m_bytes[offset + i] : 0xff;
}

void PcTestdevBytes::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (size_t i = 0; i < data.size(); ++i)
        if (offset + i < m_bytes.size()) m_bytes[offset + i] = data[i];
}

void PcTestdevIrqLines::write(uint64_t offset, std::span<const uint8_t> data) {
    // One line per port: a wider access sets the lines of the ports it covers.
    for (size_t i = 0; i < data.size() && offset + i < kSize; ++i)
        m_set_line(static_cast<uint32_t>(offset + i), data[i] != 0);
}

}  // namespace popek::devices::legacy
