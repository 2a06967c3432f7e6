#pragma once
/// popek's test device (only with `--test-dev`): a scratch register file that in-tree test guests
/// use to check port I/O and MMIO of every size. Writes store bytes at their offset; reads return
/// them. Byte i starts as 0xA0 + (i & 0x3f), so a read before any write is checkable too.
#include <mutex>
#include <vector>

#include "bus/device.h"

namespace popek::devices::legacy {

class TestDevice final : public bus::Device {
public:
    enum class Kind { Pio, Mmio };
    static constexpr size_t kPioSize = 8, kMmioSize = 0x1000;

    explicit TestDevice(Kind kind) : m_kind(kind), m_bytes(kind == Kind::Pio ? kPioSize : kMmioSize) {
        for (size_t i = 0; i < m_bytes.size(); ++i) m_bytes[i] = static_cast<uint8_t>(0xa0 + (i & 0x3f));
    }
    std::string_view name() const override { return m_kind == Kind::Pio ? "test-dev-pio" : "test-dev-mmio"; }
    void read(uint64_t offset, std::span<uint8_t> data) override {
        std::lock_guard lock(m_mutex);
        for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < m_bytes.size() ? m_bytes[offset + i] : 0xff;
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        std::lock_guard lock(m_mutex);
        for (size_t i = 0; i < data.size(); ++i)
            if (offset + i < m_bytes.size()) m_bytes[offset + i] = data[i];
    }

private:
    Kind m_kind;
    std::mutex m_mutex;
    std::vector<uint8_t> m_bytes;
};

}  // namespace popek::devices::legacy
