#pragma once
/// QEMU's firmware configuration device, legacy I/O interface only (QEMU docs/specs/fw_cfg.rst):
/// a 16-bit write to the selector port (0x510) picks an item and rewinds it, each 8-bit read of
/// the data port (0x511) returns its next byte, and reads past the end of an item (or of an item
/// that does not exist) return 0. Data port writes are ignored, as on QEMU 2.4 and later.
/// kvm-unit-tests reads the vCPU count here (FW_CFG_NB_CPUS) and waits for that many APs; an
/// absent device would read 0xffff.
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "bus/device.h"

namespace popek::devices::legacy {

class FwCfg final : public bus::Device {
public:
    static constexpr uint16_t kPort = 0x510;   ///< selector; data at kPort + 1
    static constexpr uint64_t kSize = 2;
    // Item keys (fw_cfg.rst "Selector Register" and QEMU's include/standard-headers/linux/qemu_fw_cfg.h).
    static constexpr uint16_t kSignature = 0x0000;   ///< "QEMU"
    static constexpr uint16_t kId = 0x0001;          ///< feature bits: 1 = traditional interface
    static constexpr uint16_t kRamSize = 0x0003;     ///< u64 LE, bytes of guest RAM
    static constexpr uint16_t kNoGraphic = 0x0004;   ///< u16 LE
    static constexpr uint16_t kNbCpus = 0x0005;      ///< u16 LE, vCPUs present at boot
    static constexpr uint16_t kMaxCpus = 0x000f;     ///< u16 LE
    static constexpr uint16_t kFileDir = 0x0019;     ///< u32 BE count, then the entries

    /// The items of a PC with `ram_bytes` of RAM and `cpus` vCPUs (no named files).
    FwCfg(uint64_t ram_bytes, uint16_t cpus);

    std::string_view name() const override { return "fw-cfg"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    void add_le(uint16_t key, uint64_t value, size_t bytes);

    std::mutex m_mutex;
    std::map<uint16_t, std::vector<uint8_t>> m_items;
    uint16_t m_selected = 0;
    size_t m_position = 0;
};

}  // namespace popek::devices::legacy
