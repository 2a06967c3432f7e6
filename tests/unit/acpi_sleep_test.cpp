// Suspend to RAM (vmm/acpi_sleep.h): the waking state read from the FACS (ACPI 6.4 5.2.10), the
// sleeping vCPU's wait for the RTC alarm with RTC_EN, and the resume.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/cmos_rtc.h"
#include "vmm/acpi_sleep.h"
#include "vmm/vm_lifecycle.h"

namespace popek::vmm {
namespace {

using devices::legacy::AcpiPm;
using devices::legacy::CmosRtc;

constexpr uint64_t kFacs = 0xe0040;

memory::GuestMemory make_mem() {
    auto m = memory::GuestMemory::create(2 << 20);
    EXPECT_TRUE(m) << m.error().message;
    return std::move(*m);
}

void put_facs(const memory::GuestMemory& mem, uint32_t vector, uint64_t x_vector = 0, uint32_t ospm_flags = 0) {
    uint8_t facs[64] = {'F', 'A', 'C', 'S', 64};
    std::memcpy(facs + kFacsFirmwareWakingVector, &vector, 4);
    std::memcpy(facs + kFacsXFirmwareWakingVector, &x_vector, 8);
    std::memcpy(facs + kFacsOspmFlags, &ospm_flags, 4);
    ASSERT_TRUE(mem.write(kFacs, facs));
}

TEST(S3WakingState, RealModeAtTheFirmwareWakingVector) {
    auto mem = make_mem();
    put_facs(mem, 0x12345);
    auto s = s3_waking_state(mem, kFacs);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE(s->has_value());
    const hv::CpuState& st = **s;
    EXPECT_EQ(st.cs.selector, 0x1234) << "CS = vector >> 4";
    EXPECT_EQ(st.cs.base, 0x12340u);
    EXPECT_EQ(st.rip, 0x5u) << "IP = vector & 0xf";
    EXPECT_EQ(st.cr0 & hv::kCr0Pe, 0u) << "real mode";
    EXPECT_EQ(st.cr0, 0x60000010u);
    EXPECT_EQ(st.ds.base, 0u);
    EXPECT_EQ(st.ds.limit, 0xffffu);
    EXPECT_EQ(st.efer, 0u);
    EXPECT_EQ(st.rflags, 2u);
}

TEST(S3WakingState, XVectorIs32BitFlatProtectedMode) {
    auto mem = make_mem();
    put_facs(mem, 0x1000, 0x00200000);
    auto s = s3_waking_state(mem, kFacs);
    ASSERT_TRUE(s && s->has_value());
    const hv::CpuState& st = **s;
    EXPECT_EQ(st.rip, 0x200000u);
    EXPECT_EQ(st.cr0 & (hv::kCr0Pe | hv::kCr0Pg), hv::kCr0Pe);
    EXPECT_TRUE(st.cs.db);
    EXPECT_EQ(st.cs.limit, 0xffffffffu);
    EXPECT_EQ(st.ss.limit, 0xffffffffu);
    EXPECT_EQ(st.cs.base, 0u);
}

TEST(S3WakingState, NoVectorMeansABootAndHostileFacsContentsAreRefused) {
    auto mem = make_mem();
    put_facs(mem, 0);
    auto none = s3_waking_state(mem, kFacs);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    put_facs(mem, 0, 0x1000, kFacsOspm64BitWake);
    EXPECT_FALSE(s3_waking_state(mem, kFacs)) << "a 64-bit wake that the FACS does not offer";
    put_facs(mem, 0, uint64_t{1} << 32);
    EXPECT_FALSE(s3_waking_state(mem, kFacs)) << "a 32-bit wake above 4 GiB";
    put_facs(mem, 0x100000);
    EXPECT_FALSE(s3_waking_state(mem, kFacs)) << "a real-mode vector beyond 1 MiB";
    uint8_t junk[4] = {'F', 'A', 'C', 'T'};
    ASSERT_TRUE(mem.write(kFacs, junk));
    EXPECT_FALSE(s3_waking_state(mem, kFacs)) << "the OS overwrote the FACS";
    EXPECT_FALSE(s3_waking_state(mem, (2 << 20) - 8)) << "a FACS outside RAM";
}

/// A vCPU that records the state the resume gives it.
class RecordingVcpu final : public hv::Vcpu {
public:
    int index() const override { return 0; }
    Result<hv::VcpuExit> run() override { return hv::VcpuExit{hv::Halt{}}; }
    Result<hv::CpuState> get_state() override { return state.value_or(hv::CpuState{}); }
    Result<void> set_state(const hv::CpuState& s) override {
        state = s;
        return {};
    }
    void request_stop() override {}
    std::optional<hv::CpuState> state;
};

struct SleepRig {
    memory::GuestMemory mem = make_mem();
    VmLifecycle life;
    std::shared_ptr<std::atomic<int64_t>> now =
        std::make_shared<std::atomic<int64_t>>(int64_t{1764000000} * CmosRtc::kNsPerSec + CmosRtc::kNsPerSec / 2);
    CmosRtc rtc{2 << 20, 0, [n = now] { return n->load(); }};
    AcpiPm pm{life};
    AcpiSleep sleep{mem, life, rtc, pm, kFacs};
    RecordingVcpu vcpu;

    void cmos(uint8_t index, uint8_t value) {
        rtc.write(0, std::span<const uint8_t>(&index, 1));
        rtc.write(1, std::span<const uint8_t>(&value, 1));
    }
    void arm_alarm_every_second() {
        for (uint8_t r : {uint8_t{0x01}, uint8_t{0x03}, uint8_t{0x05}}) cmos(r, 0xc0);
        cmos(0x0b, 0x22);   // AIE
    }
    void rtc_en() {
        uint8_t en[2] = {0x00, 0x04};
        pm.write(AcpiPm::kPm1Enable, en);
    }
    uint16_t pm1_status() {
        uint8_t b[2] = {};
        pm.read(AcpiPm::kPm1Status, b);
        return static_cast<uint16_t>(b[0] | b[1] << 8);
    }
};

TEST(AcpiSleep, OnlyTheThreadThatEnteredS3Sleeps) {
    SleepRig r;
    EXPECT_FALSE(r.sleep.take_request());
    std::thread([&] { r.sleep.request(); }).join();
    EXPECT_FALSE(r.sleep.take_request()) << "another vCPU's exit";
    r.sleep.request();
    EXPECT_TRUE(r.sleep.take_request());
    EXPECT_FALSE(r.sleep.take_request()) << "taken once";
}

TEST(AcpiSleep, TheRtcAlarmWakesTheVcpuAtTheWakingVector) {
    SleepRig r;
    put_facs(r.mem, 0x1008);
    r.arm_alarm_every_second();
    r.rtc_en();
    EXPECT_FALSE(r.sleep.wake_pending());
    std::thread alarm([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        EXPECT_EQ(r.vcpu.state, std::nullopt) << "still asleep before the alarm";
        *r.now += CmosRtc::kNsPerSec;   // the next second: the alarm matches
        // Bounded: a sleep that misses the alarm ends with the VM instead of hanging the test.
        for (int i = 0; i < 500 && r.sleep.resumes() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (r.sleep.resumes() == 0) r.life.request_exit(devices::ExitCause::ConsoleQuit, 0, "the alarm did not wake it");
    });
    EXPECT_TRUE(r.sleep.sleep_and_resume(r.vcpu));
    alarm.join();
    ASSERT_TRUE(r.vcpu.state);
    EXPECT_EQ(r.vcpu.state->cs.selector, 0x100);
    EXPECT_EQ(r.vcpu.state->rip, 8u);
    EXPECT_EQ(r.pm1_status(), AcpiPm::kWakSts | AcpiPm::kRtcSts);
    EXPECT_EQ(r.sleep.resumes(), 1u);
    EXPECT_FALSE(r.life.exiting());
}

TEST(AcpiSleep, WithoutRtcEnTheAlarmDoesNotWakeAndTheVmMayStillEnd) {
    SleepRig r;
    put_facs(r.mem, 0x1000);
    r.arm_alarm_every_second();   // but PM1_EN.RTC_EN clear
    *r.now += 5 * CmosRtc::kNsPerSec;
    EXPECT_FALSE(r.sleep.wake_pending());
    std::thread ender([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        r.life.request_exit(devices::ExitCause::ConsoleQuit, 0, "quit");
    });
    EXPECT_FALSE(r.sleep.sleep_and_resume(r.vcpu));
    ender.join();
    EXPECT_EQ(r.vcpu.state, std::nullopt);
    EXPECT_EQ(r.pm1_status(), 0u);
    EXPECT_EQ(r.life.cause(), devices::ExitCause::ConsoleQuit);
}

TEST(AcpiSleep, AWakeWithoutAWakingVectorIsAResetAndABadFacsAVmError) {
    SleepRig r;
    put_facs(r.mem, 0);
    r.arm_alarm_every_second();
    r.rtc_en();
    *r.now += CmosRtc::kNsPerSec;
    EXPECT_FALSE(r.sleep.sleep_and_resume(r.vcpu));
    EXPECT_EQ(r.life.cause(), devices::ExitCause::Reset);
    SleepRig bad;
    bad.arm_alarm_every_second();
    bad.rtc_en();
    *bad.now += CmosRtc::kNsPerSec;
    EXPECT_FALSE(bad.sleep.sleep_and_resume(bad.vcpu)) << "no FACS in RAM";
    EXPECT_EQ(bad.life.cause(), devices::ExitCause::VcpuError);
    EXPECT_NE(bad.life.reason().find("FACS"), std::string::npos) << bad.life.reason();
}

}  // namespace
}  // namespace popek::vmm
