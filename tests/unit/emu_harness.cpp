#include "emu_harness.h"

namespace popek::emu::test {
namespace {

/// Handler for vectors with an error code: stores it, CR2 and the saved RIP in kReport, then HLT.
const std::vector<uint8_t> kErrHandler = {
    0x58, 0x48, 0x89, 0x04, 0x25, 0x00, 0x70, 0x00, 0x00, 0x0f, 0x20, 0xd3, 0x48, 0x89, 0x1c, 0x25,
    0x08, 0x70, 0x00, 0x00, 0x48, 0x8b, 0x0c, 0x24, 0x48, 0x89, 0x0c, 0x25, 0x10, 0x70, 0x00, 0x00,
    0x48, 0xc7, 0x04, 0x25, 0x18, 0x70, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4};
/// Handler for vectors without an error code: stores the saved RIP, then HLT.
const std::vector<uint8_t> kNoErrHandler = {
    0x48, 0x8b, 0x0c, 0x24, 0x48, 0x89, 0x0c, 0x25, 0x10, 0x70, 0x00, 0x00, 0x48, 0xc7, 0x04, 0x25,
    0x18, 0x70, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xf4};

/// Code/data descriptor (SDM Vol. 3A 3.4.5): flat 4 GiB.
uint64_t descriptor(uint8_t type, uint8_t dpl, bool l, bool db) {
    return 0xffffULL | (0xfULL << 48) | (uint64_t{type} << 40) | (1ULL << 44) | (uint64_t{dpl} << 45) |
           (1ULL << 47) | (uint64_t{l} << 53) | (uint64_t{db} << 54) | (1ULL << 55);
}

hv::Segment flat(uint16_t sel, uint8_t type, uint8_t dpl, bool l, bool db) {
    hv::Segment s;
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = sel;
    s.type = type;
    s.s = true;
    s.dpl = dpl;
    s.present = true;
    s.l = l;
    s.db = db;
    s.g = true;
    return s;
}

bool vector_has_error(int v) { return v == 8 || (v >= 10 && v <= 14) || v == 17; }

}  // namespace

EmuHarness::EmuHarness(CpuInterrupts* interrupts) {
    m_mem = std::make_unique<memory::GuestMemory>(*memory::GuestMemory::create(4 << 20));
    m_shared = std::make_unique<EngineShared>(*m_mem, 1, 2'000'000'000);
    m_cpu = std::make_unique<Cpu>(*m_shared, 0, interrupts);
}

std::unique_ptr<Cpu> EmuHarness::another_cpu(int index) {
    auto cpu = std::make_unique<Cpu>(*m_shared, index, nullptr);
    cpu->load_state(m_cpu->save_state());
    return cpu;
}

void EmuHarness::write(uint64_t gpa, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(m_mem->write(gpa, bytes).has_value());
}

void EmuHarness::set_gate(int vector, uint64_t handler, int dpl, int ist) {
    // 64-bit interrupt gate (SDM Vol. 3A figure 6-8).
    uint64_t lo = (handler & 0xffff) | (uint64_t{kCode64} << 16) | (uint64_t(ist) << 32) | (0xeULL << 40) |
                  (uint64_t(dpl) << 45) | (1ULL << 47) | ((handler & 0xffff0000ULL) << 32);
    poke<uint64_t>(kIdt + uint64_t(vector) * 16, lo);
    poke<uint64_t>(kIdt + uint64_t(vector) * 16 + 8, handler >> 32);
}

void EmuHarness::set_pte(uint64_t la, uint64_t entry) {
    poke<uint64_t>(kPt + ((la - kPtBase) >> 12) * 8, entry);
}

void EmuHarness::setup_long_mode() {
    poke<uint64_t>(kPml4, kPdpt | 7);
    poke<uint64_t>(kPdpt, kPd | 7);
    poke<uint64_t>(kPd, 0x0 | 0x87);         // 0-2 MiB: one 2 MiB page, user, writable
    poke<uint64_t>(kPd + 8, kPt | 7);        // 2-4 MiB: 4 KiB pages
    for (uint64_t i = 0; i < 512; ++i) poke<uint64_t>(kPt + i * 8, (kPtBase + i * 4096) | 7);
    poke<uint64_t>(kGdt + 0x08, descriptor(0xb, 0, true, false));
    poke<uint64_t>(kGdt + 0x10, descriptor(0x3, 0, false, true));
    poke<uint64_t>(kGdt + 0x18, descriptor(0xb, 0, false, true));
    poke<uint64_t>(kGdt + 0x20, descriptor(0x3, 3, false, true));
    poke<uint64_t>(kGdt + 0x28, descriptor(0xb, 3, true, false));
    // 64-bit TSS descriptor (16 bytes), available type 9.
    poke<uint64_t>(kGdt + 0x30, 0x67 | ((kTss & 0xffffff) << 16) | (0x9ULL << 40) | (1ULL << 47));
    poke<uint64_t>(kGdt + 0x38, 0);
    poke<uint64_t>(kTss + 4, kStackTop - 0x1000);   // RSP0
    poke<uint64_t>(kTss + 0x24, kStackTop - 0x2000);   // IST1
    write(kHandlerErr, kErrHandler);
    write(kHandlerNoErr, kNoErrHandler);
    for (int v = 0; v < 256; ++v) set_gate(v, vector_has_error(v) ? kHandlerErr : kHandlerNoErr);

    hv::CpuState st;
    st.cs = flat(kCode64, 0xb, 0, true, false);
    st.ds = st.es = st.ss = st.fs = st.gs = flat(kData, 0x3, 0, false, true);
    st.tr = hv::Segment{kTss, 0x67, kTssSel, 0xb, false, 0, true, false, false, false, false, false};
    st.ldtr.unusable = true;
    st.gdt = {kGdt, 0x3f};
    st.idt = {kIdt, 0xfff};
    st.cr0 = hv::kCr0Pe | hv::kCr0Pg | hv::kCr0Wp | hv::kCr0Et | hv::kCr0Ne;
    st.cr3 = kPml4;
    st.cr4 = hv::kCr4Pae;
    st.efer = hv::kEferLme | hv::kEferLma | hv::kEferNxe | hv::kEferSce;
    st.apic_base = 0;
    st.rip = kCode;
    st.gpr[hv::RSP] = kStackTop;
    m_cpu->load_state(st);
}

void EmuHarness::setup_protected32() {
    poke<uint64_t>(kGdt + 0x08, descriptor(0xb, 0, true, false));
    poke<uint64_t>(kGdt + 0x10, descriptor(0x3, 0, false, true));
    poke<uint64_t>(kGdt + 0x18, descriptor(0xb, 0, false, true));
    hv::CpuState st;
    st.cs = flat(kCode32, 0xb, 0, false, true);
    st.ds = st.es = st.ss = st.fs = st.gs = flat(kData, 0x3, 0, false, true);
    st.tr.type = 0xb;
    st.tr.s = false;
    st.ldtr.unusable = true;
    st.gdt = {kGdt, 0x3f};
    st.idt = {kIdt, 0x7ff};
    st.cr0 = hv::kCr0Pe | hv::kCr0Et;
    st.apic_base = 0;
    st.rip = kCode;
    st.gpr[hv::RSP] = kStackTop;
    m_cpu->load_state(st);
}

void EmuHarness::setup_real() {
    hv::CpuState st;
    for (hv::Segment* s : {&st.cs, &st.ds, &st.es, &st.ss, &st.fs, &st.gs}) {
        *s = hv::Segment{};
        s->type = 3;
    }
    st.cs.type = 0xb;
    st.tr.type = 0xb;
    st.tr.s = false;
    st.ldtr.type = 2;
    st.ldtr.s = false;
    st.cs.selector = static_cast<uint16_t>(kCode >> 4);
    st.cs.base = kCode;
    st.idt = {0, 0x3ff};
    st.cr0 = hv::kCr0Et;
    st.apic_base = 0;
    st.rip = 0;
    st.gpr[hv::RSP] = 0xfff0;
    m_cpu->load_state(st);
}

void EmuHarness::load_code(const std::vector<uint8_t>& code) {
    write(kCode, code);
    m_cpu->rip = kCode - m_cpu->seg[kCs].base;
}

}  // namespace popek::emu::test
