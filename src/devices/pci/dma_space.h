#pragma once
/// Where a PCI function's DMA goes: guest RAM directly, or through an IOMMU (VT-d,
/// src/devices/iommu/) that translates each address for the requester first.
#include <cstdint>
#include <functional>
#include <span>

#include "memory/guest_memory.h"

namespace popek::devices::pci {

class DmaSpace {
public:
    virtual ~DmaSpace() = default;
    /// Reads [address, address + out.size()) as requester `requester` (bus << 8 | devfn) sees it.
    /// False when any byte could not be read (not translated, not RAM): `out` is then undefined.
    virtual bool read(uint16_t requester, uint64_t address, std::span<uint8_t> out) = 0;
    /// Writes; false when any byte could not be written (the bytes before it may have been).
    virtual bool write(uint16_t requester, uint64_t address, std::span<const uint8_t> in) = 0;
};

/// DMA straight to guest RAM (no IOMMU, or translation disabled): only RAM takes part; an access
/// touching anything else fails whole. `wrote` (may be empty) hears of every RAM write (an engine
/// drops code it decoded there: hv::Vm::device_wrote_ram).
class DirectDma final : public DmaSpace {
public:
    using WroteRam = std::function<void(uint64_t gpa, uint64_t len)>;
    DirectDma(const memory::GuestMemory& mem, WroteRam wrote) : m_mem(mem), m_wrote(std::move(wrote)) {}
    bool read(uint16_t, uint64_t address, std::span<uint8_t> out) override {
        return static_cast<bool>(m_mem.read(address, out));
    }
    bool write(uint16_t, uint64_t address, std::span<const uint8_t> in) override {
        if (!m_mem.write(address, in)) return false;
        if (m_wrote && !in.empty()) m_wrote(address, in.size());
        return true;
    }

private:
    const memory::GuestMemory& m_mem;
    WroteRam m_wrote;
};

}  // namespace popek::devices::pci
