#pragma once
/// A VT-d DMA and interrupt remapping unit (Intel VT-d architecture specification rev 3.x) at
/// q35's 0xfed90000: the register page (§10.4), DMA translation of its devices' requests
/// (vtd_walk.h), interrupt remapping (vtd_interrupt.h), queued invalidation (§6.5.2) and
/// primary fault logging (§7.2.1, §7.3), described to the guest by the ACPI DMAR table (§8).
///
/// Registers: 32- and 64-bit naturally aligned accesses (§10.2); others read all ones and are
/// ignored. Each byte has its writable and write-1-to-clear bits; read-only registers (VER, CAP,
/// ECAP, GSTS, IQH, FRCD but its F bit) keep their values. Side effects:
/// - GCMD (write-only, reads 0): TE, QIE, IRE and CFI set or clear their GSTS status bit; SRTP
///   and SIRTP latch RTADDR and IRTA (GSTS.RTPS, IRTPS set); SFL, EAFL and WBF do nothing (CAP
///   has no AFL, no RWBF). Everything completes before the write returns.
/// - CCMD.ICC and IOTLB_REG.IVT: the invalidation completes at once (this unit caches no
///   translation: each request walks the tables), with the actual granularity = the requested.
/// - IQT: with QIES, descriptors from IQH to IQT are processed (context-cache, IOTLB and
///   interrupt entry cache invalidations complete at once; wait descriptors write their status
///   dword to RAM (SW) and set ICS.IWC (IF)); an invalid descriptor type, set reserved bits, a
///   descriptor outside RAM or a tail beyond the queue set FSTS.IQE and stop with IQH on it,
///   until software clears IQE.
/// - Faults go to the fault recording registers (4; an occupied one means overflow: FSTS.PFO);
///   fault and invalidation-completion events are MSIs from FEDATA/FEADDR and IEDATA/IEADDR, held
///   (IP) while masked (IM) and sent when unmasked, per §7.3 and §10.4.25.
/// Not implemented: PMRs, advanced fault logging, scalable mode, page requests, posted
/// interrupts, x2APIC-format IRTEs (ECAP.EIM = 0), device TLBs.
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "bus/device.h"
#include "devices/iommu/vtd_interrupt.h"
#include "devices/iommu/vtd_spec.h"
#include "devices/pci/dma_space.h"
#include "hv/msi.h"
#include "memory/guest_memory.h"

namespace popek::devices::iommu {

class VtdUnit final : public bus::Device, public pci::DmaSpace, public hv::InterruptRemapper {
public:
    /// `send_event`: delivers a fault or invalidation event MSI (not remapped). `wrote`: hears of
    /// every guest RAM write (DMA through the unit, wait descriptors' status), may be empty.
    using SendEvent = std::function<void(const hv::MsiMessage&)>;
    using WroteRam = std::function<void(uint64_t gpa, uint64_t len)>;
    VtdUnit(const memory::GuestMemory& mem, SendEvent send_event, WroteRam wrote);

    // bus::Device: the register page.
    std::string_view name() const override { return "vt-d"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // pci::DmaSpace: a device's DMA, translated when GSTS.TES is set.
    bool read(uint16_t requester, uint64_t address, std::span<uint8_t> out) override;
    bool write(uint16_t requester, uint64_t address, std::span<const uint8_t> in) override;

    // hv::InterruptRemapper.
    std::optional<hv::MsiMessage> remap(uint32_t requester, const hv::MsiMessage& message) override;

    /// A register's value as the guest reads it (tests).
    uint64_t reg64(uint32_t offset);
    uint32_t reg32(uint32_t offset);

private:
    using Event = std::optional<hv::MsiMessage>;
    uint64_t get(uint32_t offset, unsigned size) const;
    void set(uint32_t offset, uint64_t value, unsigned size);
    void writable(uint32_t offset, uint64_t mask, unsigned size, uint64_t w1c = 0);
    /// Runs the side effects of a guest write to [offset, offset + size); returns an event to send.
    Event after_write(uint32_t offset, unsigned size, uint64_t value);
    void global_command(uint32_t command);
    Event process_queue();
    bool queue_descriptor(uint64_t lo, uint64_t hi, Event& event);
    Event record_fault(uint16_t source, vtd::Fault reason, uint64_t info, bool write_request);
    Event fault_condition(uint32_t before);
    void update_fault_pending();
    bool dma(uint16_t requester, uint64_t address, uint8_t* bytes, uint64_t len, bool write);
    void send(const Event& event);

    const memory::GuestMemory& m_mem;
    SendEvent m_send_event;
    WroteRam m_wrote;
    std::mutex m_mutex;
    std::array<uint8_t, vtd::kSize> m_regs{};
    std::array<uint8_t, vtd::kSize> m_writable{};
    std::array<uint8_t, vtd::kSize> m_w1c{};
    uint64_t m_root_table = 0;          ///< latched by SRTP
    vtd::InterruptTable m_irt;          ///< latched by SIRTP
    unsigned m_next_record = 0;         ///< next fault recording register
    Event m_pending;                    ///< a second event from one write (sent with the first)
};

}  // namespace popek::devices::iommu
