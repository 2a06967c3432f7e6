#include "devices/legacy/fw_cfg.h"

#include <algorithm>

namespace popek::devices::legacy {

FwCfg::FwCfg(uint64_t ram_bytes, uint16_t cpus) {
    m_items[kSignature] = {'Q', 'E', 'M', 'U'};
    add_le(kId, 1, 4);   // bit 0: the traditional interface; no DMA (bit 1)
    add_le(kRamSize, ram_bytes, 8);
    add_le(kNoGraphic, 1, 2);
    add_le(kNbCpus, cpus, 2);
    add_le(kMaxCpus, cpus, 2);
    m_items[kFileDir] = {0, 0, 0, 0};   // an empty directory: no named files
}

void FwCfg::add_le(uint16_t key, uint64_t value, size_t bytes) {
    std::vector<uint8_t>& item = m_items[key];
    item.resize(bytes);
    for (size_t i = 0; i < bytes; ++i) item[i] = static_cast<uint8_t>(value >> (8 * i));
}

void FwCfg::read(uint64_t offset, std::span<uint8_t> data) {
    // Only an 8-bit read of the data port is a valid access (fw_cfg.rst, "Data Register").
    if (offset != 1 || data.size() != 1) {
        std::fill(data.begin(), data.end(), uint8_t{0xff});
        return;
    }
    std::lock_guard lock(m_mutex);
    auto it = m_items.find(m_selected);
    if (it == m_items.end() || m_position >= it->second.size()) {
        data[0] = 0;
        return;
    }
    data[0] = it->second[m_position++];
}

void FwCfg::write(uint64_t offset, std::span<const uint8_t> data) {
    // The selector is a 16-bit little-endian register; anything else (data writes, other widths)
    // is ignored.
    if (offset != 0 || data.size() != 2) return;
    std::lock_guard lock(m_mutex);
    m_selected = static_cast<uint16_t>(bus::span_to_u64(data));
    m_position = 0;
}

}  // namespace popek::devices::legacy
