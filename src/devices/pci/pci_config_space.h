#pragma once
/// One PCI function's 256-byte configuration space with a type 0 header (PCI Local Bus 3.0 §6.1,
/// §6.2: header type 00h), as a table of bytes plus, per byte, which bits software may write and
/// which are write-1-to-clear. Not thread-safe: PciDevice holds it under its lock.
///
/// What the guest sees:
/// - identification, class code, revision, subsystem IDs, interrupt pin: read-only;
/// - command (§6.2.2): I/O space, memory space, bus master, parity error response, SERR#,
///   INTx disable are writable; status (§6.2.3): capabilities list and interrupt status are
///   read-only, the error bits write-1-to-clear;
/// - base address registers (§6.2.5.1): 32-bit memory BARs of a power-of-two size; the low
///   log2(size) bits read 0 whatever is written, so writing all ones and reading back gives the
///   size (the sizing protocol of §6.2.5.1); the type bits 3:0 are read-only; absent BARs read 0;
/// - capabilities (§6.7): a linked list from offset 0x34, each capability's writable bytes
///   declared by the device;
/// - interrupt line (§6.2.4) is writable; everything else reads 0 and ignores writes.
/// Accesses are byte-wise; offsets at or past 256 read 0xff and ignore writes.
#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace popek::devices::pci {

/// Register offsets of the type 0 header (PCI Local Bus 3.0 §6.1, figure 6-1).
namespace cfg {
inline constexpr uint16_t kVendorId = 0x00, kDeviceId = 0x02, kCommand = 0x04, kStatus = 0x06, kRevision = 0x08,
                          kClassCode = 0x09, kHeaderType = 0x0e, kBar0 = 0x10, kSubsystemVendor = 0x2c,
                          kSubsystemId = 0x2e, kCapabilities = 0x34, kInterruptLine = 0x3c, kInterruptPin = 0x3d;
/// Command register bits (§6.2.2).
inline constexpr uint16_t kCmdIo = 1u << 0, kCmdMemory = 1u << 1, kCmdBusMaster = 1u << 2, kCmdParity = 1u << 6,
                          kCmdSerr = 1u << 8, kCmdIntxDisable = 1u << 10;
/// Status register bits (§6.2.3).
inline constexpr uint16_t kStatusInterrupt = 1u << 3, kStatusCapList = 1u << 4;
inline constexpr uint16_t kStatusErrors = 0xf900;   ///< parity, signalled/received aborts, SERR: RW1C
}  // namespace cfg

class PciConfigSpace {
public:
    static constexpr unsigned kSize = 256;
    static constexpr int kBars = 6;

    /// `class_code`: base class << 16 | subclass << 8 | programming interface.
    PciConfigSpace(uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision);

    void set_subsystem(uint16_t vendor, uint16_t id);
    /// Declares BAR `index` (0..5) as a 32-bit, non-prefetchable memory BAR of `size` bytes (a
    /// power of two, at least 16). Returns false when the arguments are not that.
    bool add_memory_bar(int index, uint32_t size);
    /// Interrupt pin (1 = INTA#; read-only) and the line firmware wrote (writable).
    void set_interrupt(uint8_t pin, uint8_t line);
    /// Appends a capability of `length` bytes with ID `id` to the list (dword-aligned, from 0x40);
    /// returns its offset, or 0 when it does not fit.
    uint8_t add_capability(uint8_t id, uint8_t length);
    /// Makes `bits` of byte `offset` writable by the guest (capability registers).
    void set_writable(uint16_t offset, uint8_t bits);

    /// Guest accesses (through the host bridge).
    void read(uint16_t offset, std::span<uint8_t> data) const;
    void write(uint16_t offset, std::span<const uint8_t> data);

    /// Device-side view: raw values, no masks.
    uint8_t byte(uint16_t offset) const { return offset < kSize ? m_bytes[offset] : 0xff; }
    uint16_t word(uint16_t offset) const;
    uint32_t dword(uint16_t offset) const;
    void set_byte(uint16_t offset, uint8_t value) {
        if (offset < kSize) m_bytes[offset] = value;
    }
    void set_word(uint16_t offset, uint16_t value);
    void set_dword(uint16_t offset, uint32_t value);

    uint16_t command() const { return word(cfg::kCommand); }
    /// BAR `index`'s size (0: absent).
    uint32_t bar_size(int index) const;
    /// BAR `index`'s memory address as the guest programmed it, or nullopt when absent.
    std::optional<uint64_t> bar_address(int index) const;

private:
    std::array<uint8_t, kSize> m_bytes{};
    std::array<uint8_t, kSize> m_writable{};
    std::array<uint8_t, kSize> m_write_clears{};
    std::array<uint32_t, kBars> m_bar_sizes{};
    uint8_t m_last_capability = 0;
    unsigned m_next_capability = 0x40;   ///< first free byte after the standard header
};

}  // namespace popek::devices::pci
