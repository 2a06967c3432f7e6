/// Segment descriptors (SDM Vol. 3A 3.4.5 figure 3-8, 3.5 system descriptors) and segment
/// register loads with the protected-mode checks of MOV/POP Sreg (SDM Vol. 2B MOV, 3A 5.6-5.8).
#include "emu/cpu.h"

namespace popek::emu {

uint64_t Cpu::read_descriptor(uint16_t selector, uint8_t vec) {
    const bool ldt = selector & 4;
    const uint64_t index = selector & 0xfff8u;
    uint64_t base = ldt ? ldtr.base : gdt.base;
    uint64_t limit = ldt ? ldtr.limit : gdt.limit;
    if ((ldt && (ldtr.unusable || ldtr.selector == 0)) || index + 7 > limit) raise(vec, selector & 0xfffcu);
    uint64_t d;
    read_sys(base + index, &d, 8);
    return d;
}

hv::Segment Cpu::descriptor_to_segment(uint16_t selector, uint64_t d, uint64_t d_high) const {
    hv::Segment s;
    uint32_t limit = static_cast<uint32_t>((d & 0xffff) | ((d >> 32) & 0xf0000));
    s.g = (d >> 55) & 1;
    s.limit = s.g ? ((limit << 12) | 0xfff) : limit;
    s.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    s.selector = selector;
    s.type = static_cast<uint8_t>((d >> 40) & 0xf);
    s.s = (d >> 44) & 1;
    s.dpl = static_cast<uint8_t>((d >> 45) & 3);
    s.present = (d >> 47) & 1;
    s.avl = (d >> 52) & 1;
    s.l = (d >> 53) & 1;
    s.db = (d >> 54) & 1;
    s.unusable = false;
    if (!s.s && long_mode) s.base |= (d_high & 0xffffffffULL) << 32;   // 16-byte system descriptors
    return s;
}

void Cpu::set_accessed(uint16_t selector, uint64_t d) {
    if (d & (1ULL << 40)) return;
    uint64_t base = (selector & 4) ? ldtr.base : gdt.base;
    uint8_t b = static_cast<uint8_t>((d >> 40) | 1);
    write_sys(base + (selector & 0xfff8u) + 5, &b, 1);
}

void Cpu::load_real_segment(int s, uint16_t selector) {
    seg[s].selector = selector;
    seg[s].base = uint64_t{selector} << 4;
    seg[s].unusable = false;
    seg[s].present = true;
    if (s == kCs) update_mode();
}

void Cpu::load_data_segment(int s, uint16_t selector) {
    if (!(cr0 & hv::kCr0Pe) || (rflags & kVm)) {
        load_real_segment(s, selector);
        return;
    }
    const uint16_t rpl = selector & 3;
    if ((selector & 0xfffc) == 0) {
        // A null selector: #GP for SS except in 64-bit mode at CPL < 3 with RPL = CPL.
        if (s == kSs && !(mode64 && cpl < 3 && rpl == cpl)) raise(kGp, 0);
        seg[s] = hv::Segment{};
        seg[s].selector = selector;
        seg[s].unusable = true;
        seg[s].present = false;
        if (s == kSs) seg[s].dpl = cpl;
        return;
    }
    uint64_t d = read_descriptor(selector, kGp);
    hv::Segment sg = descriptor_to_segment(selector, d);
    const bool code = sg.type & 8;
    if (s == kSs) {
        if (rpl != cpl || !sg.s || code || !(sg.type & 2) || sg.dpl != cpl) raise(kGp, selector & 0xfffc);
        if (!sg.present) raise(kSsf, selector & 0xfffc);
    } else {
        if (!sg.s || (code && !(sg.type & 2))) raise(kGp, selector & 0xfffc);
        bool conforming_code = code && (sg.type & 4);
        if (!conforming_code && (rpl > sg.dpl || cpl > sg.dpl)) raise(kGp, selector & 0xfffc);
        if (!sg.present) raise(kNp, selector & 0xfffc);
    }
    set_accessed(selector, d);
    if (mode64 && (s == kFs || s == kGs)) sg.base &= 0xffffffffULL;
    seg[s] = sg;
}

}  // namespace popek::emu
