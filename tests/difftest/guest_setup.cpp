#include "guest_setup.h"

#include <array>

#include "arch/x86_64/boot_cpu.h"
#include "arch/x86_64/page_tables.h"
#include "arch/x86_64/segments.h"

namespace popek::difftest {
namespace {

// popek's boot structures (src/arch/x86_64/boot_layout.h) take 0x1000-0x7fff: the boot GDT with
// its TSS (base 0) and the identity map. The tester adds its IDT, stubs and exception stack above.
constexpr uint64_t kTssBase = 0;          // the boot TSS (arch::boot_tss_segment)
constexpr uint64_t kIdt = 0xA000;
constexpr uint64_t kStubs = 0xB000;
constexpr uint64_t kStubStride = 16;
static_assert(kIstTop > kStubs + kStubStride * kIdtVectors && kIstTop <= 0x10000);

constexpr uint8_t kTail[] = {0xE6, static_cast<uint8_t>(kEndPort), 0xF4, 0xEB, 0xFE};

/// A 64-bit interrupt gate (SDM Vol. 3A 6.14.1, Figure 6-8): DPL 0, present, IST 1.
std::array<uint64_t, 2> interrupt_gate(uint64_t handler) {
    const uint64_t low = (handler & 0xffffu) | (uint64_t{arch::kSelCode64} << 16) | (1ull << 32) | (0x8Eull << 40) |
                         (((handler >> 16) & 0xffffu) << 48);
    return {low, handler >> 32};
}

}  // namespace

Result<uint64_t> write_system_structures(const memory::GuestMemory& mem) {
    const uint64_t cr3 = TRY(arch::write_identity_map(mem));
    TRY_VOID(arch::write_boot_gdt(mem));
    // The boot TSS (SDM Vol. 3A 8.7, Figure 8-11): RSP0 and IST1 at the top of the exception
    // stack; the I/O map base at the limit means no I/O bitmap.
    TRY_VOID(mem.write(kTssBase, std::array<uint8_t, 0x68>{}));
    TRY_VOID(mem.write_obj<uint64_t>(kTssBase + 0x04, kIstTop));
    TRY_VOID(mem.write_obj<uint64_t>(kTssBase + 0x24, kIstTop));
    TRY_VOID(mem.write_obj<uint16_t>(kTssBase + 0x66, 0x68));

    for (int v = 0; v < kIdtVectors; ++v) {
        const uint64_t stub = kStubs + kStubStride * static_cast<uint64_t>(v);
        TRY_VOID(mem.write_obj(kIdt + 16 * static_cast<uint64_t>(v), interrupt_gate(stub)));
        // OUT imm8, AL; HLT; JMP $ (the VMM never resumes it).
        const std::array<uint8_t, 5> code = {0xE6, static_cast<uint8_t>(kVectorPortBase + v), 0xF4, 0xEB, 0xFE};
        TRY_VOID(mem.write_obj(stub, code));
    }
    return cr3;
}

std::span<const uint8_t> engine_tail() { return kTail; }

hv::CpuState initial_state(const RegFile& regs, uint64_t cr3) {
    hv::CpuState st = arch::long_mode_state(regs.rip, cr3, 0);
    st.gpr = regs.gpr;
    st.rflags = regs.rflags;
    st.idt = {kIdt, static_cast<uint16_t>(16 * kIdtVectors - 1)};
    return st;
}

}  // namespace popek::difftest
