// libFuzzer target: the snapshot reader (src/snapshot/snapshot_file.cpp, docs/snapshot.md) and the
// section decoders behind it: CONF, CLCK, CPU, and the device models' load() (PIT, PIC, IOAPIC,
// local APIC, UART, CMOS, i8042, ACPI PM). The Xen and virtio sections: fuzz_snapshot_pv.cpp.
//
// Each input is decoded as it is, then again with its last four bytes replaced by the CRC of the
// rest (so mutations reach the sections). Whatever the bytes: an error or an image, never a crash;
// an accepted image re-encodes to the same bytes; each section decodes into a fresh model or
// fails, and a model that took it is then driven (reads, acknowledge, timer polls) without harm.
// fuzz-sources: src/snapshot/snapshot_file.cpp src/snapshot/config_record.cpp src/snapshot/cpu_record.cpp src/emu/irqchip/irqchip_snapshot.cpp src/emu/irqchip/pit.cpp src/emu/irqchip/pit_channel.cpp src/emu/irqchip/pic.cpp src/emu/irqchip/pic_chip.cpp src/emu/irqchip/ioapic.cpp src/emu/irqchip/local_apic.cpp src/emu/irqchip/local_apic_registers.cpp src/emu/irqchip/local_apic_x2apic.cpp src/emu/irqchip/apic_timer.cpp src/emu/irqchip/guest_clock.cpp src/devices/legacy/uart_8250.cpp src/devices/legacy/cmos_rtc.cpp src/devices/legacy/legacy_snapshot.cpp src/devices/legacy/acpi_pm.cpp src/devices/legacy/i8042.cpp
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/uart_8250.h"
#include "emu/irqchip/guest_clock.h"
#include "emu/irqchip/ioapic.h"
#include "emu/irqchip/local_apic.h"
#include "emu/irqchip/pic.h"
#include "emu/irqchip/pit.h"
#include "snapshot/config_record.h"
#include "snapshot/cpu_record.h"
#include "snapshot/snapshot_file.h"

using namespace popek;
using namespace popek::snapshot;

namespace {

constexpr std::string_view kVersion = "fuzz-snapshot";

struct NullControl final : devices::VmControl {
    void request_exit(devices::ExitCause, int, std::string) override {}
};

struct NullBus final : emu::ApicBusSink {
    unsigned send(const emu::ApicMessage&) override { return 0; }
    void broadcast_eoi(uint8_t) override {}
};

uint64_t fake_now = 5'000'000'000;

void drive_section(const Section& s) {
    Reader r(s.payload);
    emu::GuestClock clock(2'000'000'000, [] { return fake_now; });
    NullBus bus;
    std::array<uint8_t, 4> buf{};
    switch (s.tag) {
        case tags::kConfig: (void)decode_config(r); break;
        case tags::kCpu: (void)decode_cpu(r); break;
        case tags::kClock: {   // as load_engine_state decodes it
            emu::GuestClock::Saved c{r.u64(), r.u64(), r.u64(), r.u64()};
            if (r.ok() && c.tsc_hz != clock.tsc_hz()) break;
            if (r.ok()) clock.restore(c);
            (void)clock.now_ns();
            break;
        }
        case tags::kI8042: {
            NullControl control;
            devices::legacy::I8042 kbc(control);
            kbc.load(r);
            if (!r.ok()) break;
            (void)kbc.read_status();
            (void)kbc.read_data();
            kbc.write_command(0x20);   // read the command byte
            (void)kbc.read_data();
            break;
        }
        case tags::kAcpiPm: {
            NullControl control;
            devices::legacy::AcpiPm pm(control, [] { return std::optional<uint64_t>(fake_now); });
            pm.load(r);
            if (!r.ok()) break;
            for (uint64_t off = 0; off < 12; off += 2) pm.read(off, std::span(buf).first(2));
            break;
        }
        case tags::kPit: {
            emu::Pit pit(clock, [] {}, [] {});
            pit.load(r);
            if (!r.ok()) break;
            for (uint16_t port : {uint16_t{0x40}, uint16_t{0x41}, uint16_t{0x42}, uint16_t{0x61}}) pit.pio_read(port, std::span(buf).first(1));
            (void)pit.poll(fake_now + 1'000'000'000);
            break;
        }
        case tags::kPic: {
            emu::PicPair pic([](bool) {});
            pic.load(r);
            if (!r.ok()) break;
            (void)pic.acknowledge();
            for (uint16_t port : {uint16_t{0x20}, uint16_t{0x21}, uint16_t{0xa0}, uint16_t{0xa1}}) pic.pio_read(port, std::span(buf).first(1));
            break;
        }
        case tags::kIoapic: {
            emu::IoApic io(bus);
            io.load(r);
            if (!r.ok()) break;
            io.mmio_read(0x10, buf);
            io.set_irq(4, true);
            io.eoi(0x30);
            break;
        }
        case tags::kLapic: {
            emu::LocalApic apic(0, clock, bus, [] {});
            apic.load(r);
            if (!r.ok()) break;
            (void)apic.acknowledge();
            (void)apic.poll_timer(fake_now + 1'000'000'000);
            for (uint32_t off : {0x20u, 0x80u, 0x100u, 0x200u, 0x320u, 0x390u}) apic.mmio_read(off, buf);
            apic.mmio_write(0xb0, buf);   // EOI
            break;
        }
        case tags::kUart: {
            devices::legacy::Uart8250 uart([](uint8_t) {}, [](bool) {});
            uart.load(r);
            if (!r.ok()) break;
            for (uint64_t off = 0; off < 8; ++off) uart.read(off, std::span(buf).first(1));
            break;
        }
        case tags::kCmos: {
            devices::legacy::CmosRtc cmos(64 << 20, 0, [] { return std::time_t{0}; });
            cmos.load(r);
            if (!r.ok()) break;
            cmos.read(1, std::span(buf).first(1));
            break;
        }
        default: return;
    }
    (void)r.finish("section");
}

void one(const std::vector<uint8_t>& bytes) {
    auto image = decode(bytes, kVersion);
    if (!image) return;
    if (encode(*image) != bytes) __builtin_trap();   // an accepted file is exactly what encode writes
    for (const Section& s : image->sections) drive_section(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> bytes(data, data + size);
    one(bytes);
    if (bytes.size() >= 4) {
        const uint32_t crc = crc32(std::span(bytes).first(bytes.size() - 4));
        for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (8 * i));
        one(bytes);
    }
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): a whole snapshot of every section kind as the seed, plus mutations.
#include <cstdlib>
#include <random>

#include "seed_writer.h"

namespace {

template <class Model>
std::vector<uint8_t> saved(Model& m) {
    Writer w;
    m.save(w);
    return std::move(w.buffer());
}

std::vector<uint8_t> seed_snapshot() {
    emu::GuestClock clock(2'000'000'000, [] { return fake_now; });
    NullBus bus;
    Image im;
    im.header.popek_version = std::string(kVersion);
    im.header.ram_bytes = 64 << 20;
    im.header.vcpus = 1;
    vmm::VmOptions o;
    o.mem_mib = 64;
    o.disks.push_back({"/tmp/disk.img", false});
    Writer conf;
    encode_config(conf, o);
    im.sections.push_back({tags::kConfig, 0, conf.buffer()});
    CpuRecord c;
    c.cr0 = 0x80000011;
    c.efer = 0x500;
    Writer cpu;
    encode(cpu, c);
    im.sections.push_back({tags::kCpu, 0, cpu.buffer()});
    emu::LocalApic apic(0, clock, bus, [] {});
    im.sections.push_back({tags::kLapic, 0, saved(apic)});
    emu::IoApic io(bus);
    im.sections.push_back({tags::kIoapic, 0, saved(io)});
    emu::PicPair pic([](bool) {});
    im.sections.push_back({tags::kPic, 0, saved(pic)});
    emu::Pit pit(clock, [] {}, [] {});
    im.sections.push_back({tags::kPit, 0, saved(pit)});
    devices::legacy::Uart8250 uart([](uint8_t) {}, [](bool) {});
    const uint8_t in[] = {'h', 'i'};
    uart.push_input(in);
    im.sections.push_back({tags::kUart, 0, saved(uart)});
    devices::legacy::CmosRtc cmos(64 << 20, 0, [] { return std::time_t{0}; });
    im.sections.push_back({tags::kCmos, 0, saved(cmos)});
    NullControl control;
    devices::legacy::I8042 kbc(control);
    kbc.press_ctrl_alt_del();
    im.sections.push_back({tags::kI8042, 0, saved(kbc)});
    devices::legacy::AcpiPm pm(control, [] { return std::optional<uint64_t>(fake_now); });
    im.sections.push_back({tags::kAcpiPm, 0, saved(pm)});
    Writer clk;
    const emu::GuestClock::Saved t = clock.save();
    for (uint64_t v : {t.origin_ns, t.now_ns, t.tsc_offset, t.tsc_hz}) clk.u64(v);
    im.sections.push_back({tags::kClock, 0, clk.buffer()});
    return encode(im);
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    // The second seed has an empty section (libFuzzer found Reader::bytes passing an empty
    // payload's null data() to memset).
    Image empty_section;
    empty_section.header.popek_version = std::string(kVersion);
    empty_section.sections.push_back({tags::kCmos, 0, {}});
    const std::vector<std::vector<uint8_t>> seeds = {seed_snapshot(), encode(empty_section)};
    if (argc > 2 && !popek::fuzz::write_seeds(argv[2], seeds)) return 1;   // `0 DIR`: the seed corpus
    std::mt19937 rng(0x736e6170);
    for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> d = seeds[static_cast<size_t>(i) % seeds.size()];
        popek::fuzz::mutate(d, rng);
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    return 0;
}
#endif
