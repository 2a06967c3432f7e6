#pragma once
/// The CpuInterrupts of one vCPU of the own engine: its local APIC, plus on vCPU 0 (the BSP) the
/// PIC's INTR through LINT0 and the PIT's timer, and the sleep/wake of HLT.
#include <condition_variable>
#include <mutex>

#include "emu/irqchip/cpu_interrupts.h"
#include "emu/irqchip/local_apic.h"
#include "emu/irqchip/pic.h"
#include "emu/irqchip/pit.h"

namespace popek::emu {

class VcpuInterrupts final : public CpuInterrupts {
public:
    /// `pic` and `pit` are given to vCPU 0 only (null for the others).
    VcpuInterrupts(int index, const GuestClock& clock, ApicBusSink& bus, PicPair* pic, Pit* pit);

    LocalApic& local_apic() { return m_apic; }

    bool interrupt_pending() override { return m_apic.interrupt_pending(); }
    std::optional<uint8_t> acknowledge_interrupt() override;
    bool take_nmi() override { return m_apic.take_nmi(); }
    bool take_init() override { return m_apic.take_init(); }
    std::optional<uint8_t> take_sipi() override { return m_apic.take_sipi(); }
    uint64_t poll_timers(uint64_t now_ns) override;
    void wait(uint64_t deadline_ns, WakeOn wake) override;
    void kick() override;
    void set_attention(std::atomic<bool>* flag) override;
    void apic_read(uint32_t offset, std::span<uint8_t> data) override { m_apic.mmio_read(offset, data); }
    void apic_write(uint32_t offset, std::span<const uint8_t> data) override { m_apic.mmio_write(offset, data); }
    bool read_msr(uint32_t msr, uint64_t& value) override { return m_apic.read_msr(msr, value); }
    bool write_msr(uint32_t msr, uint64_t value) override { return m_apic.write_msr(msr, value); }
    unsigned send_physical_ipi(uint32_t apic_id, uint32_t icr_low) override {
        return m_apic.send_physical(apic_id, icr_low);
    }
    void set_cr8(uint64_t value) override { m_apic.set_cr8(value); }
    uint64_t cr8() override { return m_apic.cr8(); }

private:
    /// Something became pending: wake a wait() without leaving a kick behind.
    void notify();

    PicPair* m_pic;
    Pit* m_pit;
    const GuestClock& m_clock;   ///< wait() deadlines are in its time base (paused time left out)
    std::mutex m_wait_mutex;
    std::condition_variable m_wake;
    bool m_kicked = false;
    std::atomic<bool>* m_attention = nullptr;   ///< under m_wait_mutex
    LocalApic m_apic;  // last: its wake callback uses the members above
};

}  // namespace popek::emu
