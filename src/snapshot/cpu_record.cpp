#include "snapshot/cpu_record.h"

namespace popek::snapshot {
namespace {

void put_segment(Writer& w, const hv::Segment& s) {
    w.u64(s.base);
    w.u32(s.limit);
    w.u16(s.selector);
    w.u8(s.type);
    w.u8(s.dpl);
    for (bool b : {s.s, s.present, s.avl, s.l, s.db, s.g, s.unusable}) w.boolean(b);
}

hv::Segment get_segment(Reader& r) {
    hv::Segment s;
    s.base = r.u64();
    s.limit = r.u32();
    s.selector = r.u16();
    s.type = r.bounded<uint8_t>(r.u8(), 15, "a segment's type");
    s.dpl = r.bounded<uint8_t>(r.u8(), 3, "a segment's DPL");
    for (bool* b : {&s.s, &s.present, &s.avl, &s.l, &s.db, &s.g, &s.unusable}) *b = r.boolean();
    return s;
}

}  // namespace

void encode(Writer& w, const CpuRecord& c) {
    for (uint64_t v : c.gpr) w.u64(v);
    w.u64(c.rip);
    w.u64(c.rflags);
    for (const hv::Segment& s : c.seg) put_segment(w, s);
    put_segment(w, c.tr);
    put_segment(w, c.ldtr);
    for (const hv::DescriptorTable& t : {c.gdt, c.idt}) {
        w.u64(t.base);
        w.u16(t.limit);
    }
    for (uint64_t v : {c.cr0, c.cr2, c.cr3, c.cr4, c.efer}) w.u64(v);
    for (uint64_t v : c.dr) w.u64(v);
    for (uint64_t v : {c.star, c.lstar, c.cstar, c.sfmask, c.kernel_gs_base, c.tsc_aux, c.sysenter_cs, c.sysenter_esp,
                       c.sysenter_eip, c.pat, c.misc_enable, c.mtrr_def_type, c.apic_base, c.spec_ctrl,
                       c.misc_features_enables, c.pkru, c.pkrs})
        w.u64(v);
    w.i64(c.tsc_offset);
    w.bytes(c.fxsave);
    w.u8(c.cpl);
    for (bool b : {c.interrupt_shadow, c.halted, c.nmi_blocked}) w.boolean(b);
    w.u32(c.db_pending);
    w.u32(c.db_held);
    for (bool b : {c.movss_shadow, c.after_movss, c.runnable, c.waiting_sipi, c.up}) w.boolean(b);
}

CpuRecord decode_cpu(Reader& r) {
    CpuRecord c;
    for (uint64_t& v : c.gpr) v = r.u64();
    c.rip = r.u64();
    c.rflags = r.u64();
    for (hv::Segment& s : c.seg) s = get_segment(r);
    c.tr = get_segment(r);
    c.ldtr = get_segment(r);
    for (hv::DescriptorTable* t : {&c.gdt, &c.idt}) {
        t->base = r.u64();
        t->limit = r.u16();
    }
    for (uint64_t* v : {&c.cr0, &c.cr2, &c.cr3, &c.cr4, &c.efer}) *v = r.u64();
    for (uint64_t& v : c.dr) v = r.u64();
    for (uint64_t* v : {&c.star, &c.lstar, &c.cstar, &c.sfmask, &c.kernel_gs_base, &c.tsc_aux, &c.sysenter_cs,
                        &c.sysenter_esp, &c.sysenter_eip, &c.pat, &c.misc_enable, &c.mtrr_def_type, &c.apic_base,
                        &c.spec_ctrl, &c.misc_features_enables, &c.pkru, &c.pkrs})
        *v = r.u64();
    c.tsc_offset = r.i64();
    r.bytes(c.fxsave);
    c.cpl = r.bounded<uint8_t>(r.u8(), 3, "the CPL");
    for (bool* b : {&c.interrupt_shadow, &c.halted, &c.nmi_blocked}) *b = r.boolean();
    c.db_pending = r.u32();
    c.db_held = r.u32();
    for (bool* b : {&c.movss_shadow, &c.after_movss, &c.runnable, &c.waiting_sipi, &c.up}) *b = r.boolean();
    // What the engine takes for granted of a state it runs (the rest is any value a guest can load).
    if (r.ok()) {
        if ((c.rflags & 2) == 0 || (c.rflags >> 22) != 0) r.invalid("RFLAGS {:#x} has reserved bits wrong", c.rflags);
        if ((c.efer & hv::kEferLma) && !(c.cr0 & hv::kCr0Pg)) r.invalid("EFER.LMA without CR0.PG");
        if (!(c.cr0 & hv::kCr0Pe) && c.cpl != 0) r.invalid("CPL {} in real mode", c.cpl);
        if ((c.pkru | c.pkrs) >> 32) r.invalid("PKRU or IA32_PKRS has bits above 31");
    }
    return c;
}

}  // namespace popek::snapshot
