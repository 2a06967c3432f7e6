#include "snapshot/engine_state.h"

#include <functional>

#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/uart_8250.h"
#include "devices/virtio/mmio_transport.h"
#include "emu/cpu.h"
#include "emu/engine_shared.h"
#include "emu/irqchip/platform.h"
#include "snapshot/cpu_record.h"

namespace popek::snapshot {

Section section(uint32_t t, uint32_t instance, const std::function<void(Writer&)>& fill) {
    Writer w;
    fill(w);
    return Section{t, instance, std::move(w.buffer())};
}

Result<void> load_section(const Image& image, uint32_t t, uint32_t instance, const std::function<void(Reader&)>& read) {
    const Section* s = image.find(t, instance);
    if (!s) return fail("the snapshot has no `{}` section {}", tag_name(t), instance);
    Reader r(s->payload);
    read(r);
    return r.finish(fmt::format("section `{}` {}", tag_name(t), instance));
}

std::vector<Section> save_engine_state(const EngineParts& parts) {
    emu::EngineShared& engine = *parts.engine;
    emu::InterruptPlatform& irq = *engine.platform;
    std::vector<Section> out;
    out.push_back(section(tags::kClock, 0, [&](Writer& w) {
        const emu::GuestClock::Saved c = engine.clock.save();
        w.u64(c.origin_ns);
        w.u64(c.now_ns);
        w.u64(c.tsc_offset);
        w.u64(c.tsc_hz);
    }));
    for (int i = 0; i < engine.vcpus; ++i) {
        const emu::Cpu* cpu = engine.cpus[static_cast<size_t>(i)];
        out.push_back(section(tags::kCpu, static_cast<uint32_t>(i),
                              [&](Writer& w) { encode(w, capture(*cpu, engine.vcpus_up.is_up(i))); }));
        out.push_back(section(tags::kLapic, static_cast<uint32_t>(i), [&](Writer& w) { irq.local_apic(i).save(w); }));
    }
    out.push_back(section(tags::kIoapic, 0, [&](Writer& w) { irq.ioapic().save(w); }));
    out.push_back(section(tags::kPic, 0, [&](Writer& w) { irq.pic().save(w); }));
    out.push_back(section(tags::kPit, 0, [&](Writer& w) { irq.pit().save(w); }));
    out.push_back(section(tags::kUart, 0, [&](Writer& w) { parts.uart->save(w); }));
    out.push_back(section(tags::kCmos, 0, [&](Writer& w) { parts.cmos->save(w); }));
    out.push_back(section(tags::kI8042, 0, [&](Writer& w) { parts.i8042->save(w); }));
    out.push_back(section(tags::kAcpiPm, 0, [&](Writer& w) { parts.acpi_pm->save(w); }));
    for (size_t i = 0; i < parts.virtio.size(); ++i)
        out.push_back(section(tags::kVirtio, static_cast<uint32_t>(i), [&](Writer& w) { parts.virtio[i]->save(w); }));
    return out;
}

Result<void> load_engine_state(const Image& image, const EngineParts& parts) {
    emu::EngineShared& engine = *parts.engine;
    emu::InterruptPlatform& irq = *engine.platform;
    // Every section this VM needs is there, and none it has no part for (a device more or fewer).
    for (const Section& s : image.sections) {
        const bool per_cpu = s.tag == tags::kCpu || s.tag == tags::kLapic;
        if (per_cpu && s.instance >= static_cast<uint32_t>(engine.vcpus))
            return fail("section `{}` {} is for a vCPU this VM does not have", tag_name(s.tag), s.instance);
        if (s.tag == tags::kVirtio && s.instance >= parts.virtio.size())
            return fail("section `VIRT` {} is for a virtio device this VM does not have", s.instance);
    }
    TRY_VOID(load_section(image, tags::kClock, 0, [&](Reader& r) {
        emu::GuestClock::Saved c{r.u64(), r.u64(), r.u64(), r.u64()};
        if (r.ok() && c.tsc_hz != engine.clock.tsc_hz())
            r.invalid("the guest TSC ran at {} Hz, this engine's runs at {} Hz", c.tsc_hz, engine.clock.tsc_hz());
        if (r.ok()) engine.clock.restore(c);
    }));
    for (int i = 0; i < engine.vcpus; ++i) {
        emu::Cpu* cpu = engine.cpus[static_cast<size_t>(i)];
        if (!cpu) return fail("vCPU {} is not created", i);
        TRY_VOID(load_section(image, tags::kCpu, static_cast<uint32_t>(i), [&](Reader& r) {
            const CpuRecord c = decode_cpu(r);
            if (r.ok()) apply(c, *cpu);
        }));
        // After the CPU: the TPR (CR8) is the APIC's.
        TRY_VOID(load_section(image, tags::kLapic, static_cast<uint32_t>(i), [&](Reader& r) { irq.local_apic(i).load(r); }));
    }
    TRY_VOID(load_section(image, tags::kIoapic, 0, [&](Reader& r) { irq.ioapic().load(r); }));
    TRY_VOID(load_section(image, tags::kPic, 0, [&](Reader& r) { irq.pic().load(r); }));
    TRY_VOID(load_section(image, tags::kPit, 0, [&](Reader& r) { irq.pit().load(r); }));
    TRY_VOID(load_section(image, tags::kUart, 0, [&](Reader& r) { parts.uart->load(r); }));
    TRY_VOID(load_section(image, tags::kCmos, 0, [&](Reader& r) { parts.cmos->load(r); }));
    TRY_VOID(load_section(image, tags::kI8042, 0, [&](Reader& r) { parts.i8042->load(r); }));
    TRY_VOID(load_section(image, tags::kAcpiPm, 0, [&](Reader& r) { parts.acpi_pm->load(r); }));
    for (size_t i = 0; i < parts.virtio.size(); ++i)
        TRY_VOID(load_section(image, tags::kVirtio, static_cast<uint32_t>(i), [&](Reader& r) { parts.virtio[i]->load(r); }));
    return {};
}

}  // namespace popek::snapshot
