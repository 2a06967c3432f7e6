#include "vmm/acpi_sleep.h"

#include <chrono>

#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/cmos_rtc.h"
#include "vmm/exit_status.h"
#include "vmm/vm_lifecycle.h"

namespace popek::vmm {
namespace {

/// How often a sleeping VM looks at its wake sources (the RTC alarm is in whole seconds).
constexpr auto kWakePoll = std::chrono::milliseconds(5);

/// The reset state of SDM Vol. 3A 9.1.1 table 9-1 (what firmware resumes from), real mode.
hv::CpuState reset_state() {
    hv::CpuState s;
    s.gpr[hv::RDX] = 0x600;
    s.rflags = 2;
    const hv::Segment data{0, 0xffff, 0, 3, true, 0, true, false, false, false, false, false};
    s.cs = s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.cs.type = 0xb;
    s.tr = hv::Segment{0, 0xffff, 0, 0xb, false, 0, true, false, false, false, false, false};
    s.ldtr = hv::Segment{0, 0xffff, 0, 2, false, 0, true, false, false, false, false, false};
    s.gdt = {0, 0xffff};
    s.idt = {0, 0xffff};
    s.cr0 = 0x60000010;
    return s;
}

}  // namespace

Result<std::optional<hv::CpuState>> s3_waking_state(const memory::GuestMemory& mem, uint64_t facs) {
    const auto signature = TRY(mem.read_obj<uint32_t>(facs));
    const auto length = TRY(mem.read_obj<uint32_t>(facs + 4));
    if (signature != 0x53434146u /* "FACS" */ || length < kFacsMinLength)
        return fail("no FACS at {:#x} to resume from S3 (signature {:#x}, length {})", facs, signature, length);
    const auto vector = TRY(mem.read_obj<uint32_t>(facs + kFacsFirmwareWakingVector));
    const auto x_vector = TRY(mem.read_obj<uint64_t>(facs + kFacsXFirmwareWakingVector));
    const auto ospm_flags = TRY(mem.read_obj<uint32_t>(facs + kFacsOspmFlags));
    hv::CpuState s = reset_state();
    if (x_vector != 0) {
        if (ospm_flags & kFacsOspm64BitWake)
            return fail("the OS asked for a 64-bit wake (FACS OSPM flags {:#x}), which the FACS does not offer", ospm_flags);
        if (x_vector > 0xffffffffu) return fail("X_Firmware_Waking_Vector {:#x} is above 4 GiB for a 32-bit wake", x_vector);
        // 5.2.10: 32-bit protected mode, flat 4 GiB code and data segments, paging off.
        const hv::Segment flat_data{0, 0xffffffff, 0x10, 3, true, 0, true, false, false, true, true, false};
        s.ds = s.es = s.fs = s.gs = s.ss = flat_data;
        s.cs = hv::Segment{0, 0xffffffff, 0x08, 0xb, true, 0, true, false, false, true, true, false};
        s.cr0 |= hv::kCr0Pe;
        s.rip = x_vector;
        return s;
    }
    if (vector == 0) return std::nullopt;
    if (vector > 0xfffff) return fail("Firmware_Waking_Vector {:#x} is beyond real mode's 1 MiB", vector);
    s.cs.selector = static_cast<uint16_t>(vector >> 4);
    s.cs.base = uint64_t{s.cs.selector} << 4;
    s.rip = vector & 0xf;
    return s;
}

AcpiSleep::AcpiSleep(const memory::GuestMemory& mem, VmLifecycle& life, devices::legacy::CmosRtc& rtc,
                     devices::legacy::AcpiPm& pm, uint64_t facs)
    : m_mem(mem), m_life(life), m_rtc(rtc), m_pm(pm), m_facs(facs) {}

void AcpiSleep::request() {
    std::lock_guard lock(m_mutex);
    m_sleeper = std::this_thread::get_id();
}

bool AcpiSleep::take_request() {
    std::lock_guard lock(m_mutex);
    if (m_sleeper != std::this_thread::get_id()) return false;
    m_sleeper.reset();
    return true;
}

bool AcpiSleep::wake_pending() const { return m_pm.rtc_wake_enabled() && m_rtc.irq_asserted(); }

uint64_t AcpiSleep::resumes() const {
    std::lock_guard lock(m_mutex);
    return m_resumes;
}

bool AcpiSleep::sleep_and_resume(hv::Vcpu& vcpu) {
    while (!wake_pending())
        if (m_life.wait_for(kWakePoll)) return false;   // the VM ended while asleep
    m_pm.rtc_woke();
    Result<std::optional<hv::CpuState>> state = s3_waking_state(m_mem, m_facs);
    if (!state) {
        m_life.request_exit(devices::ExitCause::VcpuError, kExitVmError, state.error().message);
        return false;
    }
    if (!*state) {
        m_life.request_exit(devices::ExitCause::Reset, kExitOk, "reset (resume from S3 without a waking vector)");
        return false;
    }
    if (Result<void> r = vcpu.set_state(**state); !r) {
        m_life.request_exit(devices::ExitCause::VcpuError, kExitVmError, "resume from S3: " + r.error().message);
        return false;
    }
    std::lock_guard lock(m_mutex);
    ++m_resumes;
    return true;
}

}  // namespace popek::vmm
