// Legacy devices: 8250 UART, CMOS RTC, i8042, debug-exit, reset control, test device.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/reset_control.h"
#include "devices/legacy/test_device.h"
#include "devices/legacy/uart_8250.h"
#include "snapshot/snap_codec.h"

namespace {

using namespace popek::devices::legacy;

struct FakeControl final : popek::devices::VmControl {
    int calls = 0, status = -1;
    std::string reason;
    popek::devices::ExitCause cause = popek::devices::ExitCause::VcpuError;
    void request_exit(popek::devices::ExitCause c, int s, std::string r) override {
        ++calls;
        cause = c;
        status = s;
        reason = std::move(r);
    }
};

uint8_t rd(popek::bus::Device& d, uint64_t off) {
    uint8_t v = 0;
    d.read(off, std::span<uint8_t>(&v, 1));
    return v;
}
void wr(popek::bus::Device& d, uint64_t off, uint8_t v) { d.write(off, std::span<const uint8_t>(&v, 1)); }

struct UartFixture : ::testing::Test {
    std::string out;
    std::vector<bool> irq;
    Uart8250 uart{[this](uint8_t b) { out.push_back(static_cast<char>(b)); },
                  [this](bool level) { irq.push_back(level); }};
};

}  // namespace

TEST_F(UartFixture, TransmitsAndReportsEmptyTransmitter) {
    for (char c : std::string("hi\n")) wr(uart, 0, static_cast<uint8_t>(c));
    EXPECT_EQ(out, "hi\n");
    EXPECT_EQ(rd(uart, 5) & 0x60, 0x60) << "THRE and TEMT set";
}

TEST_F(UartFixture, ReceivesInOrderAndBoundsTheFifo) {
    std::vector<uint8_t> big(Uart8250::kRxCapacity + 10, 'a');
    big[0] = 'x';
    EXPECT_EQ(uart.push_input(big), Uart8250::kRxCapacity) << "excess input is refused, not dropped";
    EXPECT_EQ(rd(uart, 5) & 1, 1) << "data ready";
    EXPECT_EQ(rd(uart, 0), 'x');
    EXPECT_EQ(rd(uart, 0), 'a');
}

TEST_F(UartFixture, DivisorLatchDoesNotTransmit) {
    wr(uart, 3, 0x80);  // DLAB
    wr(uart, 0, 0x01);
    wr(uart, 1, 0x00);
    EXPECT_EQ(rd(uart, 0), 0x01);
    wr(uart, 3, 0x03);
    EXPECT_TRUE(out.empty());
}

TEST_F(UartFixture, InterruptsNeedOut2AndFollowIir) {
    const uint8_t rx = 0x41;
    wr(uart, 1, 0x01);  // receive interrupt enabled, OUT2 on by default
    uart.push_input(std::span<const uint8_t>(&rx, 1));
    ASSERT_FALSE(irq.empty());
    EXPECT_TRUE(irq.back());
    EXPECT_EQ(rd(uart, 2) & 0x0f, 0x04) << "IIR: received data available";
    EXPECT_EQ(rd(uart, 0), 0x41);
    EXPECT_FALSE(irq.back()) << "line drops once the FIFO is drained";
    wr(uart, 4, 0x00);  // OUT2 off: the line stays low
    uart.push_input(std::span<const uint8_t>(&rx, 1));
    EXPECT_FALSE(irq.back());
}

TEST_F(UartFixture, ThrEmptyInterruptIsRaisedOnEnableAndClearedByIirRead) {
    wr(uart, 1, 0x02);
    EXPECT_TRUE(irq.back());
    EXPECT_EQ(rd(uart, 2) & 0x0f, 0x02);
    EXPECT_FALSE(irq.back());
    EXPECT_EQ(rd(uart, 2) & 0x0f, 0x01) << "no interrupt pending any more";
}

TEST_F(UartFixture, LoopbackWiresModemLinesAndData) {
    wr(uart, 4, 0x1a);  // LOOP | OUT2 | RTS: Linux's autoconfig expects MSR[7:4] = 0x9
    EXPECT_EQ(rd(uart, 6) & 0xf0, 0x90);
    wr(uart, 0, 'z');
    EXPECT_TRUE(out.empty()) << "loopback data never reaches the terminal";
    EXPECT_EQ(rd(uart, 0), 'z');
}

TEST_F(UartFixture, ScratchAndWideAccessesAreSafe) {
    wr(uart, 7, 0x5a);
    EXPECT_EQ(rd(uart, 7), 0x5a);
    uint8_t wide[8];
    uart.read(6, wide);  // runs past register 7: the rest reads as 0xff
    EXPECT_EQ(wide[1], 0x5a);
    EXPECT_EQ(wide[2], 0xff);
    uart.write(9, wide);  // out of range: ignored
}

constexpr int64_t kSec = CmosRtc::kNsPerSec;

TEST(CmosRtc, TimeIsBcd) {
    int64_t fixed = 1764000000 * kSec;  // 2025-11-24 16:00:00 UTC
    CmosRtc rtc(256ull << 20, 0, [fixed] { return fixed; });
    auto reg = [&](uint8_t i) { wr(rtc, 0, i); return rd(rtc, 1); };
    EXPECT_EQ(reg(0x0a) & 0x80, 0) << "no update in progress right after a second boundary";
    EXPECT_EQ(reg(0x04), 0x16);
    EXPECT_EQ(reg(0x00), 0x00);
    EXPECT_EQ(reg(0x09), 0x25);
    EXPECT_EQ(reg(0x08), 0x11);
    EXPECT_EQ(reg(0x32), 0x20);
    wr(rtc, 0, 0x0b);
    wr(rtc, 1, 0x06);  // binary mode
    EXPECT_EQ(reg(0x04), 16);
    EXPECT_EQ(reg(0x09), 25);
}

TEST(CmosRtc, MemorySizeRegistersAndNmiBit) {
    CmosRtc rtc(128ull << 20, 1ull << 30, [] { return int64_t{1764000000} * kSec; });
    auto reg = [&](uint8_t i) { wr(rtc, 0, static_cast<uint8_t>(i | 0x80)); return rd(rtc, 1); };
    unsigned ext = reg(0x30) | (reg(0x31) << 8);
    EXPECT_EQ(ext, 0xffffu) << "127 MiB above 1 MiB does not fit: the register saturates";
    unsigned over16 = reg(0x34) | (reg(0x35) << 8);
    EXPECT_EQ(over16, (112u << 20) >> 16);
    unsigned high = reg(0x5b) | (reg(0x5c) << 8) | (reg(0x5d) << 16);
    EXPECT_EQ(high, (1u << 30) >> 16);
    wr(rtc, 0, 0x00);
    wr(rtc, 1, 0x59);
    EXPECT_EQ(reg(0x00), 0x00) << "time registers follow the host clock, writes are ignored";
}

/// A CMOS RTC on a clock the test moves.
struct ClockedRtc {
    std::shared_ptr<int64_t> now = std::make_shared<int64_t>(int64_t{1764000000} * kSec + kSec / 2);
    CmosRtc rtc{64ull << 20, 0, [n = now] { return *n; }};
    uint8_t reg(uint8_t i) {
        wr(rtc, 0, i);
        return static_cast<uint8_t>(rd(rtc, 1));
    }
    void set(uint8_t i, uint8_t v) {
        wr(rtc, 0, i);
        wr(rtc, 1, v);
    }
};

TEST(CmosRtc, UpdateInProgressInTheLast2228UsOfEachSecond) {
    ClockedRtc c;
    const int64_t second = int64_t{1764000000} * kSec;
    *c.now = second + kSec - CmosRtc::kUipNs - 1;
    EXPECT_EQ(c.reg(0x0a) & 0x80, 0);
    *c.now = second + kSec - CmosRtc::kUipNs;
    EXPECT_EQ(c.reg(0x0a), 0xa6) << "UIP over the programmed divider and rate";
    *c.now = second + kSec - 1;
    EXPECT_EQ(c.reg(0x0a) & 0x80, 0x80);
    EXPECT_EQ(c.reg(0x00), 0x00) << "the seconds change only at the boundary";
    *c.now = second + kSec;
    EXPECT_EQ(c.reg(0x0a) & 0x80, 0);
    EXPECT_EQ(c.reg(0x00), 0x01);
    c.set(0x0a, 0xa6);
    *c.now = second + kSec / 2;
    EXPECT_EQ(c.reg(0x0a), 0x26) << "UIP is read-only";
    c.set(0x0b, 0x82);  // SET: updates stopped, never in progress
    *c.now = second + kSec - 1;
    EXPECT_EQ(c.reg(0x0a) & 0x80, 0);
}

TEST(CmosRtc, AlarmWithDontCareValuesFiresEverySecondAndStatusCClearsOnRead) {
    ClockedRtc c;
    for (uint8_t r : {uint8_t{0x01}, uint8_t{0x03}, uint8_t{0x05}}) c.set(r, 0xc0);
    EXPECT_EQ(c.reg(0x01), 0xc0) << "alarm registers are writable";
    c.set(0x0b, 0x22);  // AIE, 24-hour
    EXPECT_EQ(c.reg(0x0c), 0x00) << "no boundary passed yet";
    EXPECT_FALSE(c.rtc.irq_asserted());
    *c.now += kSec;
    EXPECT_TRUE(c.rtc.irq_asserted()) << "an enabled alarm drives the interrupt output";
    EXPECT_EQ(c.reg(0x0c), 0x80 | 0x20 | 0x10) << "IRQF, AF and UF";
    EXPECT_EQ(c.reg(0x0c), 0x00) << "reading status C cleared it";
    EXPECT_FALSE(c.rtc.irq_asserted());
    *c.now += kSec;
    EXPECT_TRUE(c.rtc.irq_asserted());
}

TEST(CmosRtc, AlarmMatchesOnlyItsSecondAndWithoutAieRaisesNoInterrupt) {
    ClockedRtc c;  // 16:00:00.5 UTC
    c.set(0x01, 0x03);   // 3 seconds past, BCD
    c.set(0x03, 0xc0);
    c.set(0x05, 0x16);   // hour 16, BCD
    c.set(0x0b, 0x02);   // 24-hour, AIE clear
    *c.now += kSec;      // 16:00:01
    EXPECT_EQ(c.reg(0x0c), 0x10) << "UF only: second 1 is not the alarm's";
    *c.now += 2 * kSec;  // 16:00:03
    EXPECT_FALSE(c.rtc.irq_asserted()) << "AF without AIE does not drive the output";
    EXPECT_EQ(c.reg(0x0c), 0x30) << "AF and UF, no IRQF";
    c.set(0x05, 0x15);   // hour 15: never today from here on
    c.set(0x0b, 0x22);
    *c.now += 120 * kSec;
    EXPECT_FALSE(c.rtc.irq_asserted());
    EXPECT_EQ(c.reg(0x0c), 0x10);
    c.set(0x05, 0x04);   // 12-hour mode below: 4 PM is 0x84
    c.set(0x0b, 0x20);   // AIE, 12-hour, BCD
    *c.now = int64_t{1764000000 + 12 * 3600 + 3} * kSec;  // next day 04:00:03 UTC
    EXPECT_EQ(c.reg(0x0c) & 0x20, 0x20) << "04:00:03 AM matches hour 0x04 in 12-hour mode";
}

TEST(I8042, SelfTestAndResets) {
    FakeControl ctl;
    I8042 kbc(ctl);
    auto& cmd = *kbc.command_port();
    auto& data = *kbc.data_port();
    wr(cmd, 0, 0xaa);
    EXPECT_EQ(rd(cmd, 0) & 1, 1);
    EXPECT_EQ(rd(data, 0), 0x55);
    EXPECT_EQ(rd(cmd, 0) & 1, 0);
    wr(cmd, 0, 0xd1);
    wr(data, 0, 0x03);  // reset line kept high: no reset
    EXPECT_EQ(ctl.calls, 0);
    wr(cmd, 0, 0xfe);
    EXPECT_EQ(ctl.calls, 1);
    EXPECT_EQ(ctl.status, 0);
    EXPECT_EQ(ctl.cause, popek::devices::ExitCause::Reset);
}

/// An i8042 whose keyboard interrupt pulses are counted.
struct Keyboard {
    FakeControl ctl;
    I8042 kbc{ctl};
    int irqs = 0;
    popek::bus::Device& cmd = *kbc.command_port();
    popek::bus::Device& data = *kbc.data_port();
    Keyboard() { kbc.set_keyboard_irq([this] { ++irqs; }); }
};

TEST(I8042, CtrlAltDelIsTypedOneByteAndOneIrqAtATime) {
    Keyboard k;
    auto& [ctl, kbc, irqs, cmd, data] = k;
    kbc.press_ctrl_alt_del();
    EXPECT_EQ(irqs, 1);
    std::vector<uint8_t> got;
    for (int i = 0; i < 20 && (rd(cmd, 0) & 1); ++i) got.push_back(static_cast<uint8_t>(rd(data, 0)));
    // Scan code set 1: Ctrl, Alt, Del (E0 53) made, then broken in reverse.
    EXPECT_EQ(got, (std::vector<uint8_t>{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d}));
    EXPECT_EQ(irqs, 8);
    EXPECT_EQ(ctl.calls, 0);   // typing is not a reset: the guest decides
}

TEST(I8042, KeysWaitWhileTheKeyboardInterruptIsOffAndTheQueueIsBounded) {
    Keyboard k;
    auto& [ctl, kbc, irqs, cmd, data] = k;
    wr(cmd, 0, 0x60);
    wr(data, 0, 0x44);   // command byte without bit 0: no keyboard interrupt
    for (int i = 0; i < 100; ++i) kbc.press_ctrl_alt_del();
    EXPECT_EQ(irqs, 0);
    int bytes = 0;
    while ((rd(cmd, 0) & 1) && bytes < 1000) {
        (void)rd(data, 0);
        ++bytes;
    }
    EXPECT_EQ(bytes, 64);   // 8 presses fit the 64-byte queue; the rest were dropped
}

TEST(I8042, TheCommandByteAndWaitingKeysCrossASnapshot) {
    Keyboard before;
    wr(before.cmd, 0, 0x60);
    wr(before.data, 0, 0x44);   // the guest turned the keyboard interrupt off
    before.kbc.press_ctrl_alt_del();
    popek::snapshot::Writer w;
    before.kbc.save(w);

    Keyboard after;
    popek::snapshot::Reader r(w.buffer());
    after.kbc.load(r);
    ASSERT_TRUE(r.finish("KBC "));
    after.kbc.press_ctrl_alt_del();
    EXPECT_EQ(after.irqs, 0);   // still off, as the guest left it
    int bytes = 0;
    while ((rd(after.cmd, 0) & 1) && bytes < 100) {
        (void)rd(after.data, 0);
        ++bytes;
    }
    EXPECT_EQ(bytes, 16);       // the key typed before the snapshot, and the one after

    popek::snapshot::Writer big;
    before.kbc.save(big);
    big.buffer()[6] = 200;      // 200 queued keys: more than the controller ever holds
    popek::snapshot::Reader bad(big.buffer());
    after.kbc.load(bad);
    EXPECT_FALSE(bad.finish("KBC "));
}

TEST(DebugExit, StatusIsValueTimesTwoPlusOne) {
    FakeControl ctl;
    DebugExit dev(ctl);
    uint32_t v = 0x10;
    dev.write(0, std::span<const uint8_t>(reinterpret_cast<uint8_t*>(&v), 4));
    EXPECT_EQ(ctl.status, 0x21);
    EXPECT_EQ(ctl.reason, "debug-exit");
    EXPECT_EQ(ctl.cause, popek::devices::ExitCause::DebugExit);
}

TEST(ResetControl, OnlyRstCpuResets) {
    FakeControl ctl;
    ResetControl dev(ctl);
    wr(dev, 0, 0x02);
    EXPECT_EQ(ctl.calls, 0);
    EXPECT_EQ(rd(dev, 0), 0x02);
    wr(dev, 0, 0x06);
    EXPECT_EQ(ctl.calls, 1);
    EXPECT_EQ(ctl.cause, popek::devices::ExitCause::Reset);
}

TEST(TestDevice, ScratchBytesEverySizeAndBounds) {
    TestDevice dev(TestDevice::Kind::Mmio);
    EXPECT_EQ(rd(dev, 0x41), 0xa1);
    uint64_t v = 0x1122334455667788;
    dev.write(0x10, std::span<const uint8_t>(reinterpret_cast<uint8_t*>(&v), 8));
    uint16_t w = 0;
    dev.read(0x12, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&w), 2));
    EXPECT_EQ(w, 0x5566);
    uint32_t edge = 0;
    dev.read(TestDevice::kMmioSize - 2, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&edge), 4));
    EXPECT_EQ(edge >> 16, 0xffffu) << "bytes past the end read as 0xff";
}
