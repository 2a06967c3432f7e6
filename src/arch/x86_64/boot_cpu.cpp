#include "arch/x86_64/boot_cpu.h"

#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/segments.h"

namespace popek::arch {
namespace {

hv::CpuState with_boot_gdt(uint64_t entry, const hv::Segment& code) {
    hv::CpuState st;
    st.rip = entry;
    st.rflags = 0x2;  // bit 1 is reserved-one; IF, TF, VM clear
    st.cs = code;
    hv::Segment data = flat_data_segment();
    st.ds = st.es = st.fs = st.gs = st.ss = data;
    st.tr = boot_tss_segment();
    st.ldtr = unusable_ldt_segment();
    st.gdt = {kBootGdtAddr, kBootGdtLimit};
    st.idt = {0, 0};
    return st;
}

}  // namespace

hv::CpuState protected_mode_flat_state(uint64_t entry) {
    hv::CpuState st = with_boot_gdt(entry, flat_code32_segment());
    st.cr0 = hv::kCr0Pe | hv::kCr0Et;
    st.cr3 = 0;
    st.cr4 = 0;
    st.efer = 0;
    return st;
}

hv::CpuState long_mode_state(uint64_t entry, uint64_t cr3, uint64_t efer) {
    hv::CpuState st = with_boot_gdt(entry, code64_segment());
    // MP|NE with EM clear and OSFXSR|OSXMMEXCPT: SSE works from the first instruction.
    st.cr0 = hv::kCr0Pe | hv::kCr0Mp | hv::kCr0Et | hv::kCr0Ne | hv::kCr0Pg;
    st.cr3 = cr3;
    st.cr4 = hv::kCr4Pae | hv::kCr4Osfxsr | hv::kCr4Osxmmexcpt;
    st.efer = efer | hv::kEferLme | hv::kEferLma;
    return st;
}

}  // namespace popek::arch
