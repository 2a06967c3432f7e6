// ACPI PM1 registers: poweroff on SLP_TYP(S5)|SLP_EN, SCI_EN always set, W1C status, PM timer.
#include <gtest/gtest.h>

#include <thread>

#include "devices/legacy/acpi_pm.h"
#include "snapshot/snap_codec.h"

namespace popek::devices::legacy {
namespace {

struct RecordingControl : VmControl {
    void request_exit(ExitCause cause, int status, std::string reason) override {
        ++calls;
        last_cause = cause;
        last_status = status;
        last_reason = std::move(reason);
    }
    int calls = 0;
    int last_status = -1;
    ExitCause last_cause = ExitCause::VcpuError;
    std::string last_reason;
};

uint64_t rd(AcpiPm& pm, uint64_t off, size_t size) {
    std::vector<uint8_t> b(size);
    pm.read(off, b);
    return bus::span_to_u64(b);
}
void wr(AcpiPm& pm, uint64_t off, uint64_t v, size_t size) {
    std::vector<uint8_t> b(size);
    bus::u64_to_span(v, b);
    pm.write(off, b);
}

TEST(AcpiPm, PowersOffOnS5WithSlpEn) {
    RecordingControl control;
    AcpiPm pm(control);
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Control, 2) & AcpiPm::kSciEn, AcpiPm::kSciEn) << "always in ACPI mode";
    wr(pm, AcpiPm::kPm1Control, AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift, 2);  // type only, no SLP_EN
    EXPECT_EQ(control.calls, 0);
    wr(pm, AcpiPm::kPm1Control, 3u << AcpiPm::kSlpTypShift | AcpiPm::kSlpEn, 2);  // S2: not offered
    EXPECT_EQ(control.calls, 0);
    wr(pm, AcpiPm::kPm1Control, AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift | AcpiPm::kSlpEn, 2);
    EXPECT_EQ(control.calls, 1);
    EXPECT_EQ(control.last_status, 0);
    EXPECT_EQ(control.last_reason, "poweroff");
    EXPECT_EQ(control.last_cause, ExitCause::Poweroff);
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Control, 2) & AcpiPm::kSlpEn, 0u) << "SLP_EN reads as 0";
}

TEST(AcpiPm, PowersOffOnByteWrites) {
    RecordingControl control;
    AcpiPm pm(control);
    uint16_t v = AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift | AcpiPm::kSlpEn;
    wr(pm, AcpiPm::kPm1Control, v & 0xff, 1);
    EXPECT_EQ(control.calls, 0);
    wr(pm, AcpiPm::kPm1Control + 1, v >> 8, 1);
    EXPECT_EQ(control.calls, 1);
}

TEST(AcpiPm, S3WithSlpEnCallsTheSleepHookOnly) {
    RecordingControl control;
    int sleeps = 0;
    AcpiPm pm(control, {}, [&] { ++sleeps; });
    wr(pm, AcpiPm::kPm1Control, AcpiPm::kSlpTypS3 << AcpiPm::kSlpTypShift, 2);  // no SLP_EN
    EXPECT_EQ(sleeps, 0);
    wr(pm, AcpiPm::kPm1Control, 0x2400, 2);  // what kvm-unit-tests' s3 writes
    EXPECT_EQ(sleeps, 1);
    EXPECT_EQ(control.calls, 0) << "S3 is no poweroff";
    wr(pm, AcpiPm::kPm1Control, 3u << AcpiPm::kSlpTypShift | AcpiPm::kSlpEn, 2);  // a type not in the DSDT
    EXPECT_EQ(sleeps, 1);
    AcpiPm no_hook(control);
    wr(no_hook, AcpiPm::kPm1Control, 0x2400, 2);
    EXPECT_EQ(control.calls, 0) << "without a board to sleep, the guest keeps running";
}

TEST(AcpiPm, RtcWakeSetsRtcStsAndWakStsWhichTheGuestClears) {
    RecordingControl control;
    AcpiPm pm(control);
    EXPECT_FALSE(pm.rtc_wake_enabled());
    wr(pm, AcpiPm::kPm1Enable, 0x0400, 2);
    EXPECT_TRUE(pm.rtc_wake_enabled());
    pm.rtc_woke();
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Status, 2), 0x8400u);
    wr(pm, AcpiPm::kPm1Status, 0x8000, 2);
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Status, 2), 0x0400u) << "write-1-to-clear, one bit at a time";
    wr(pm, AcpiPm::kPm1Status + 1, 0x04, 1);
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Status, 2), 0u);
}

TEST(AcpiPm, EnableAndStatusRegisters) {
    RecordingControl control;
    AcpiPm pm(control);
    wr(pm, AcpiPm::kPm1Enable, 0x0121, 2);
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Enable, 2), 0x0121u);
    wr(pm, AcpiPm::kPm1Status, 0xffff, 2);  // write-1-to-clear on an empty status: stays 0
    EXPECT_EQ(rd(pm, AcpiPm::kPm1Status, 2), 0u);
    // A 4-byte access over the event block sees status (low) and enable (high).
    EXPECT_EQ(rd(pm, 0, 4), 0x0121u << 16);
    EXPECT_EQ(rd(pm, 6, 2), 0u) << "padding";
}

TEST(AcpiPm, TimerCountsAt3_58MHz) {
    RecordingControl control;
    AcpiPm pm(control);
    uint32_t a = static_cast<uint32_t>(rd(pm, AcpiPm::kPmTimer, 4));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint32_t b = static_cast<uint32_t>(rd(pm, AcpiPm::kPmTimer, 4));
    EXPECT_LT(a, 1u << 24);
    EXPECT_LT(b, 1u << 24);
    uint32_t delta = (b - a) & 0xffffff;
    // 50 ms is 178977 ticks; allow a slow, loaded host but not a wrong rate.
    EXPECT_GE(delta, 170000u);
    EXPECT_LE(delta, 1000000u);
}

TEST(AcpiPm, TimerFollowsTheGuestClockAcrossPauseAndSnapshot) {
    RecordingControl control;
    uint64_t guest_ns = 5'000'000'000;   // the guest clock: stands still while paused
    AcpiPm pm(control, [&guest_ns] { return std::optional<uint64_t>(guest_ns); });
    const auto t0 = static_cast<uint32_t>(rd(pm, AcpiPm::kPmTimer, 4));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(rd(pm, AcpiPm::kPmTimer, 4), t0);   // paused guest time: no ticks
    guest_ns += 1'000'000;                          // 1 ms of guest time
    EXPECT_EQ((rd(pm, AcpiPm::kPmTimer, 4) - t0) & 0xffffff, 3579u);
    wr(pm, AcpiPm::kPm1Enable, 0x0121, 2);
    popek::snapshot::Writer w;
    pm.save(w);
    // A new process with the restored clock reads the same timer and registers.
    AcpiPm restored(control, [&guest_ns] { return std::optional<uint64_t>(guest_ns); });
    popek::snapshot::Reader r(w.buffer());
    restored.load(r);
    ASSERT_TRUE(r.finish("ACPI"));
    EXPECT_EQ(rd(restored, AcpiPm::kPmTimer, 4), rd(pm, AcpiPm::kPmTimer, 4));
    EXPECT_EQ(rd(restored, AcpiPm::kPm1Enable, 2), 0x0121u);
    EXPECT_EQ(rd(restored, AcpiPm::kPm1Control, 2) & AcpiPm::kSciEn, AcpiPm::kSciEn);
    EXPECT_EQ(control.calls, 0);
}

}  // namespace
}  // namespace popek::devices::legacy
