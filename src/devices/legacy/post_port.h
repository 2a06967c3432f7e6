#pragma once
/// Port 0x80, the POST diagnostic port: guests write to it as an I/O delay. Accepting it here
/// keeps those writes out of the "unclaimed access" counters; reads return the last value.
#include <atomic>

#include "bus/device.h"

namespace popek::devices::legacy {

class PostPort final : public bus::Device {
public:
    std::string_view name() const override { return "post-port"; }
    void read(uint64_t, std::span<uint8_t> data) override {
        std::fill(data.begin(), data.end(), m_last.load());
    }
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t, std::span<const uint8_t> data) override {
        if (!data.empty()) m_last.store(data[0]);
    }

private:
    std::atomic<uint8_t> m_last{0xff};
};

}  // namespace popek::devices::legacy
