#include "guest_setup.h"

#include <array>

namespace popek::difftest {
namespace {

constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kGdt = 0x4000, kIdt = 0x5000,
                   kTss = 0x6000, kStubs = 0x7000;
constexpr uint16_t kCodeSelector = 0x08, kDataSelector = 0x10, kTssSelector = 0x18;
constexpr uint64_t kStubStride = 16;

// Page-table entry bits (SDM Vol. 3A 4.5, Table 4-15..4-19): present, writable, accessed, dirty,
// page size. A and D are preset so the CPU never writes the tables.
constexpr uint64_t kPtePresent = 1, kPteWrite = 2, kPteAccessed = 0x20, kPteDirty = 0x40, kPteLarge = 0x80;

constexpr uint8_t kTail[] = {0xE6, static_cast<uint8_t>(kEndPort), 0xF4, 0xEB, 0xFE};

/// A 64-bit TSS descriptor (SDM Vol. 3A 8.2.3, Figure 8-4), type 0xB: busy 64-bit TSS.
std::array<uint64_t, 2> tss_descriptor(uint64_t base, uint32_t limit) {
    const uint64_t low = (limit & 0xffffu) | ((base & 0xffffffu) << 16) | (0xBull << 40) | (1ull << 47) |
                         (uint64_t{(limit >> 16) & 0xfu} << 48) | (((base >> 24) & 0xffu) << 56);
    return {low, base >> 32};
}

/// A 64-bit interrupt gate (SDM Vol. 3A 6.14.1, Figure 6-8): DPL 0, present, IST 1.
std::array<uint64_t, 2> interrupt_gate(uint64_t handler) {
    const uint64_t low = (handler & 0xffffu) | (uint64_t{kCodeSelector} << 16) | (1ull << 32) | (0x8Eull << 40) |
                         (((handler >> 16) & 0xffffu) << 48);
    return {low, handler >> 32};
}

hv::Segment flat_data() {
    hv::Segment s;
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = kDataSelector;
    s.type = 3;  // read/write, accessed
    s.s = true;
    s.present = true;
    s.db = true;
    s.g = true;
    return s;
}

}  // namespace

Result<void> write_system_structures(const memory::GuestMemory& mem) {
    TRY_VOID(mem.write_obj(kPml4, kPdpt | kPtePresent | kPteWrite | kPteAccessed));
    TRY_VOID(mem.write_obj(kPdpt, kPd | kPtePresent | kPteWrite | kPteAccessed));
    for (uint64_t i = 0; i < 512; ++i)
        TRY_VOID(mem.write_obj(kPd + 8 * i,
                               (i << 21) | kPtePresent | kPteWrite | kPteAccessed | kPteDirty | kPteLarge));

    // GDT (SDM Vol. 3A 3.4.5): null, 64-bit code (L=1), flat data, TSS.
    const std::array<uint64_t, 3> flat = {0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull};
    TRY_VOID(mem.write_obj(kGdt, flat));
    TRY_VOID(mem.write_obj(kGdt + kTssSelector, tss_descriptor(kTss, 0x67)));

    // TSS (SDM Vol. 3A 8.7, Figure 8-11): RSP0 and IST1 at the top of the exception stack;
    // the I/O map base beyond the limit means no I/O bitmap.
    TRY_VOID(mem.write(kTss, std::array<uint8_t, 0x68>{}));
    TRY_VOID(mem.write_obj<uint64_t>(kTss + 0x04, kIstTop));
    TRY_VOID(mem.write_obj<uint64_t>(kTss + 0x24, kIstTop));
    TRY_VOID(mem.write_obj<uint16_t>(kTss + 0x66, 0x68));

    for (int v = 0; v < kIdtVectors; ++v) {
        const uint64_t stub = kStubs + kStubStride * static_cast<uint64_t>(v);
        TRY_VOID(mem.write_obj(kIdt + 16 * static_cast<uint64_t>(v), interrupt_gate(stub)));
        // OUT imm8, AL; HLT; JMP $ (the VMM never resumes it).
        const std::array<uint8_t, 5> code = {0xE6, static_cast<uint8_t>(kVectorPortBase + v), 0xF4, 0xEB, 0xFE};
        TRY_VOID(mem.write_obj(stub, code));
    }
    return {};
}

std::span<const uint8_t> engine_tail() { return kTail; }

hv::CpuState initial_state(const RegFile& regs) {
    hv::CpuState st;
    st.gpr = regs.gpr;
    st.rip = regs.rip;
    st.rflags = regs.rflags;
    st.cs = flat_data();
    st.cs.selector = kCodeSelector;
    st.cs.type = 0xB;  // execute/read, accessed
    st.cs.l = true;
    st.cs.db = false;
    st.ds = st.es = st.ss = st.fs = st.gs = flat_data();
    st.tr = hv::Segment{kTss, 0x67, kTssSelector, 0xB, false, 0, true, false, false, false, false, false};
    st.ldtr = hv::Segment{0, 0xffff, 0, 2, false, 0, true, false, false, false, false, true};
    st.gdt = {kGdt, static_cast<uint16_t>(kTssSelector + 15)};
    st.idt = {kIdt, static_cast<uint16_t>(16 * kIdtVectors - 1)};
    st.cr0 = hv::kCr0Pe | hv::kCr0Mp | hv::kCr0Et | hv::kCr0Ne | hv::kCr0Wp | hv::kCr0Pg;
    st.cr3 = kPml4;
    st.cr4 = hv::kCr4Pae | hv::kCr4Osfxsr | hv::kCr4Osxmmexcpt;
    st.efer = hv::kEferLme | hv::kEferLma;
    return st;
}

}  // namespace popek::difftest
