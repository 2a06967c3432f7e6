#include "arch/x86_64/segments.h"

#include "arch/x86_64/boot_layout.h"

namespace popek::arch {
namespace {

// Descriptor type fields (SDM Vol. 3A table 3-1 and 3-2).
constexpr uint8_t kTypeCodeExecReadAccessed = 0xb;
constexpr uint8_t kTypeDataReadWriteAccessed = 0x3;
constexpr uint8_t kTypeTssBusy = 0xb;
constexpr uint8_t kTypeLdt = 0x2;

hv::Segment flat(uint16_t selector, uint8_t type) {
    hv::Segment s;
    s.base = 0;
    s.limit = 0xffff'ffff;
    s.selector = selector;
    s.type = type;
    s.s = true;
    s.dpl = 0;
    s.present = true;
    s.db = true;
    s.g = true;
    return s;
}

}  // namespace

hv::Segment flat_code32_segment() { return flat(kSelCode32, kTypeCodeExecReadAccessed); }

hv::Segment code64_segment() {
    hv::Segment s = flat(kSelCode64, kTypeCodeExecReadAccessed);
    s.l = true;
    s.db = false;  // L=1 requires D=0 (SDM Vol. 3A 5.2.1)
    return s;
}

hv::Segment flat_data_segment() { return flat(kSelData, kTypeDataReadWriteAccessed); }

hv::Segment boot_tss_segment() {
    hv::Segment s;
    s.base = 0;
    s.limit = 0x67;
    s.selector = kSelTss;
    s.type = kTypeTssBusy;
    s.s = false;
    s.present = true;
    return s;
}

hv::Segment unusable_ldt_segment() {
    hv::Segment s;
    s.base = 0;
    s.limit = 0;
    s.selector = 0;
    s.type = kTypeLdt;
    s.s = false;
    s.present = false;
    s.unusable = true;
    return s;
}

uint64_t encode_descriptor(const hv::Segment& s) {
    // The descriptor stores limit in pages when G=1 (SDM Vol. 3A 3.4.5).
    uint64_t limit = s.g ? (uint64_t{s.limit} >> 12) : s.limit;
    uint64_t d = 0;
    d |= limit & 0xffff;
    d |= (s.base & 0xffffff) << 16;
    d |= uint64_t{s.type & 0xfu} << 40;
    d |= uint64_t{s.s} << 44;
    d |= uint64_t{s.dpl & 3u} << 45;
    d |= uint64_t{s.present} << 47;
    d |= ((limit >> 16) & 0xf) << 48;
    d |= uint64_t{s.avl} << 52;
    d |= uint64_t{s.l} << 53;
    d |= uint64_t{s.db} << 54;
    d |= uint64_t{s.g} << 55;
    d |= ((s.base >> 24) & 0xff) << 56;
    return d;
}

std::array<uint64_t, 6> boot_gdt_entries() {
    // The TSS descriptor's upper quadword holds base[63:32] = 0 (SDM Vol. 3A 7.2.3).
    return {0, encode_descriptor(flat_code32_segment()), encode_descriptor(code64_segment()),
            encode_descriptor(flat_data_segment()), encode_descriptor(boot_tss_segment()), 0};
}

Result<void> write_boot_gdt(const memory::GuestMemory& mem) {
    return mem.write_obj(kBootGdtAddr, boot_gdt_entries());
}

}  // namespace popek::arch
