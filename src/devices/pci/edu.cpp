#include "devices/pci/edu.h"

#include <algorithm>

#include "bus/device.h"

namespace popek::devices::pci {

Edu::Edu(DmaSpace& dma, IrqLine intx, MsiSink msi)
    : PciDevice(PciConfigSpace(kVendor, kDevice, 0x00ff00, 0x10)),
      m_dma(dma),
      m_intx(std::move(intx)),
      m_msi(std::move(msi)) {
    m_config.set_subsystem(0x1af4, 0x1100);
    m_config.add_memory_bar(0, kBarSize);
    m_config.set_interrupt(1, 0);   // INTA#
    m_msi_cap = MsiCapability::add(m_config);
}

std::array<uint8_t, Edu::kDmaBufferSize> Edu::buffer() {
    std::lock_guard lock(m_mutex);
    return m_buffer;
}

void Edu::bar_read(int bar, uint64_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    if (bar != 0) return;
    const bool ok = offset < kRegDmaSrc ? data.size() == 4 : (data.size() == 4 || data.size() == 8);
    if (!ok || offset % data.size() != 0) return;
    std::lock_guard lock(m_mutex);
    uint64_t v = ~uint64_t{0};
    switch (offset) {
    case kRegId: v = 0x010000ed; break;
    case kRegLiveness: v = m_liveness; break;
    case kRegFactorial: v = m_factorial; break;
    case kRegStatus: v = m_status; break;
    case kRegIrqStatus: v = m_irq_status; break;
    case kRegDmaSrc: v = m_dma_src; break;
    case kRegDmaDst: v = m_dma_dst; break;
    case kRegDmaCount: v = m_dma_count; break;
    case kRegDmaCmd: v = m_dma_cmd; break;
    default: break;
    }
    bus::u64_to_span(v, data);
}

void Edu::bar_write(int bar, uint64_t offset, std::span<const uint8_t> data) {
    if (bar != 0) return;
    const bool ok = offset < kRegDmaSrc ? data.size() == 4 : (data.size() == 4 || data.size() == 8);
    if (!ok || offset % data.size() != 0) return;
    std::lock_guard lock(m_mutex);
    write_register(offset, bus::span_to_u64(data));
}

void Edu::write_register(uint64_t offset, uint64_t value) {
    const bool dma_running = (m_dma_cmd & kDmaRun) != 0;
    switch (offset) {
    case kRegLiveness: m_liveness = ~static_cast<uint32_t>(value); break;
    case kRegFactorial: {
        if (m_status & kStatusComputing) break;
        uint32_t n = static_cast<uint32_t>(value), product = 1;
        // 32-bit and wrapping, as QEMU's. Once 0 it stays 0 (within 64 rounds for any n: every
        // other factor is even), so a huge n costs no more than that.
        while (n > 0 && product != 0) product *= n--;
        m_factorial = product;
        if (m_status & kStatusIrqFactorial) raise(kFactorialIrq);
        break;
    }
    case kRegStatus:
        m_status = (m_status & ~kStatusIrqFactorial) | (static_cast<uint32_t>(value) & kStatusIrqFactorial);
        break;
    case kRegIrqRaise: raise(static_cast<uint32_t>(value)); break;
    case kRegIrqAck: lower(static_cast<uint32_t>(value)); break;
    case kRegDmaSrc:
        if (!dma_running) m_dma_src = value;
        break;
    case kRegDmaDst:
        if (!dma_running) m_dma_dst = value;
        break;
    case kRegDmaCount:
        if (!dma_running) m_dma_count = value;
        break;
    case kRegDmaCmd:
        if (!(value & kDmaRun) || dma_running) break;
        m_dma_cmd = value;
        run_dma();
        break;
    default: break;
    }
}

void Edu::run_dma() {
    const bool to_ram = (m_dma_cmd & kDmaToRam) != 0;
    const uint64_t device_side = to_ram ? m_dma_src : m_dma_dst;
    const uint64_t ram_side = (to_ram ? m_dma_dst : m_dma_src) & kDmaMask;
    const uint64_t count = m_dma_count;
    // The buffer side must lie in the 4 KiB buffer (QEMU aborts otherwise; here nothing moves).
    const bool in_buffer = device_side >= kDmaBufferStart && device_side - kDmaBufferStart <= kDmaBufferSize &&
                           count <= kDmaBufferSize - (device_side - kDmaBufferStart);
    if (in_buffer && count > 0 && bus_master()) {
        auto buf = std::span(m_buffer).subspan(device_side - kDmaBufferStart, count);
        const uint16_t rid = requester_id();
        if (to_ram) {
            (void)m_dma.write(rid, ram_side, buf);
        } else {
            std::array<uint8_t, kDmaBufferSize> staging{};
            // A read that fails leaves the buffer as it was.
            if (m_dma.read(rid, ram_side, std::span(staging).first(count))) std::copy_n(staging.begin(), count, buf.begin());
        }
    }
    m_dma_cmd &= ~kDmaRun;
    if (m_dma_cmd & kDmaIrq) raise(kDmaIrqValue);
}

void Edu::raise(uint32_t bits) {
    m_irq_status |= bits;
    if (m_irq_status == 0) return;
    if (m_msi_cap.enabled(m_config)) {
        if (bus_master() && m_msi) m_msi(requester_id(), m_msi_cap.message(m_config));
    } else {
        update_intx();
    }
}

void Edu::lower(uint32_t bits) {
    m_irq_status &= ~bits;
    update_intx();
}

void Edu::update_intx() {
    // PCI Local Bus 3.0 §6.2.3: the interrupt status bit follows the function's INTx# request,
    // which the INTx disable bit keeps off the wire. With MSI enabled there is no INTx (§6.8.1.3).
    const bool request = m_irq_status != 0 && !m_msi_cap.enabled(m_config);
    uint16_t status = m_config.word(cfg::kStatus);
    m_config.set_word(cfg::kStatus, request ? (status | cfg::kStatusInterrupt) : (status & ~cfg::kStatusInterrupt));
    const bool out = request && !(m_config.command() & cfg::kCmdIntxDisable);
    if (out != m_intx_out) {
        m_intx_out = out;
        if (m_intx) m_intx(out);
    }
}

void Edu::config_written(uint16_t, size_t) { update_intx(); }

}  // namespace popek::devices::pci
