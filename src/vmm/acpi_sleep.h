#pragma once
/// Suspend to RAM: the ACPI S3 sleeping state and the resume through the FACS waking vector
/// (ACPI 6.4 7.4.2 "\_Sx", 16.1.3 "Sleeping and waking", 5.2.10 "FACS").
///
/// The guest enters S3 by writing SLP_TYP = S3 with SLP_EN to PM1_CNT (devices/legacy/acpi_pm.h).
/// The vCPU that wrote it stops there: its thread (vcpu_loop) does not run it again but waits,
/// RAM untouched, for a wake event: the RTC's interrupt output (an alarm with AIE; cmos_rtc.h)
/// while PM1_EN.RTC_EN is set. Then, as firmware does on resume (QEMU + SeaBIOS: the machine
/// resets, the firmware finds the resume in progress and jumps to the vector), the vCPU starts in
/// the reset state at the waking vector the OS wrote in the FACS:
/// - X_Firmware_Waking_Vector when non-zero: 32-bit protected mode, flat 4 GiB CS/DS/ES/FS/GS/SS,
///   paging off (popek does not offer the 64-bit wake, 64BIT_WAKE_SUPPORTED_F);
/// - else Firmware_Waking_Vector: real mode, CS = vector >> 4, IP = vector & 0xf;
/// - neither set: firmware would boot afresh; popek ends the VM as a reset does.
/// PM1_STS gets RTC_STS and WAK_STS. Other vCPUs are left as they are: an OS takes its other
/// CPUs offline before S3 and starts them again with INIT/SIPI after resume. Devices and the
/// interrupt controllers keep their state (firmware's resume path reprograms them; an OS driver
/// restores what it relies on).
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "hv/cpu_state.h"
#include "hv/hypervisor.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::devices::legacy {
class CmosRtc;
class AcpiPm;
}

namespace popek::vmm {

class VmLifecycle;

/// FACS fields read on resume (ACPI 6.4 table 5.14).
inline constexpr uint64_t kFacsFirmwareWakingVector = 12, kFacsXFirmwareWakingVector = 24,
                          kFacsOspmFlags = 36, kFacsMinLength = 64;
inline constexpr uint32_t kFacsOspm64BitWake = 1u << 0;

/// The state a vCPU resumes from S3 in, read from the FACS at `facs`; nullopt when the OS left
/// both waking vectors 0. Fails when there is no FACS there or the OS asked for a 64-bit wake.
Result<std::optional<hv::CpuState>> s3_waking_state(const memory::GuestMemory& mem, uint64_t facs);

class AcpiSleep {
public:
    AcpiSleep(const memory::GuestMemory& mem, VmLifecycle& life, devices::legacy::CmosRtc& rtc,
              devices::legacy::AcpiPm& pm, uint64_t facs);
    /// The PM device's S3 hook, on the thread of the vCPU that wrote PM1_CNT.
    void request();
    /// Whether the calling vCPU thread entered S3 in the exit it just dispatched; clears it.
    bool take_request();
    /// On that vCPU's thread: sleeps until the wake event, then sets `vcpu` to its waking state.
    /// Returns false when the VM ended meanwhile or cannot resume (the reason is in VmLifecycle).
    bool sleep_and_resume(hv::Vcpu& vcpu);
    /// Whether a wake event is pending now (RTC_EN and the RTC's interrupt output).
    bool wake_pending() const;
    uint64_t resumes() const;

private:
    const memory::GuestMemory& m_mem;
    VmLifecycle& m_life;
    devices::legacy::CmosRtc& m_rtc;
    devices::legacy::AcpiPm& m_pm;
    uint64_t m_facs;
    mutable std::mutex m_mutex;
    std::optional<std::thread::id> m_sleeper;
    uint64_t m_resumes = 0;
};

}  // namespace popek::vmm
