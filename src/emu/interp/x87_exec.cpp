/// x87 computational instructions (SDM Vol. 1 ch. 8, Vol. 2 F* pages): loads and stores (FLD FST
/// FSTP FILD FIST FISTP FISTTP FBLD FBSTP), arithmetic (FADD FSUB FSUBR FMUL FDIV FDIVR and their
/// P/I forms, FSQRT FABS FCHS FRNDINT FSCALE FXTRACT FPREM FPREM1), comparisons (FCOM FUCOM FICOM
/// FTST FXAM, FCOMI FUCOMI and their popping forms), constants (FLDZ FLD1 FLDPI ...), FXCH,
/// FCMOVcc, FFREE, FINCSTP/FDECSTP, FNOP and the transcendental ones (FSIN FCOS FSINCOS FPTAN
/// FPATAN F2XM1 FYL2X FYL2XP1).
///
/// Each one is replayed on the host x87: the guest's x87 state is loaded with FRSTOR, the very
/// same opcode runs (register forms as encoded; memory forms with the operand in a host buffer
/// addressed by [rax]), and FNSAVE brings the state back. 80-bit precision, precision/rounding
/// control, C0-C3, stack faults, tags and unmasked exceptions (FSW.ES, no result written) are
/// therefore a real x87's. FNSAVE leaves the host FPU re-initialised, and the non-waiting FNSAVE
/// never signals the guest's pending exception on the host.
#include <utility>

#include "emu/interp/x87_common.h"

namespace popek::emu {
namespace {

using StubFn = uint64_t (*)(x87::FsaveImage*, uint8_t*, uint64_t);

/// Runs x87 opcode 0xD8|Op3 with ModRM byte Modrm. Arithmetic flags come in from the guest (FCMOVcc
/// reads them) and go back out (FCOMI writes them). The stack pointer steps over the red zone.
template <unsigned Op3, unsigned Modrm>
__attribute__((noinline)) uint64_t stub(x87::FsaveImage* img, uint8_t* mem, uint64_t guest_flags) {
    uint64_t f;
    asm volatile(
        "lea -128(%%rsp), %%rsp\n\t"
        "pushfq\n\t"
        "andq $~0x8d5, (%%rsp)\n\t"
        "orq %[g], (%%rsp)\n\t"
        "popfq\n\t"
        "frstor %[img]\n\t"
        ".byte %c[op], %c[modrm]\n\t"
        "fnsave %[img]\n\t"
        "pushfq\n\t"
        "popq %[f]\n\t"
        "lea 128(%%rsp), %%rsp"
        : [img] "+m"(*img), [f] "=&r"(f)
        : [g] "r"(guest_flags & kArithFlags), "a"(mem), [op] "i"(0xd8 | Op3), [modrm] "i"(Modrm)
        : "cc", "memory");
    return f;
}

template <size_t... N>
constexpr std::array<StubFn, sizeof...(N)> reg_stubs(std::index_sequence<N...>) {
    return {stub<(N >> 6), 0xc0 | (N & 0x3f)>...};
}
template <size_t... N>
constexpr std::array<StubFn, sizeof...(N)> mem_stubs(std::index_sequence<N...>) {
    return {stub<(N >> 3), (N & 7) << 3>...};   // mod 00, rm 000: [rax]
}
/// Register forms by (opcode & 7) << 6 | (ModRM & 0x3f); memory forms by (opcode & 7) << 3 | reg.
constexpr auto kRegStubs = reg_stubs(std::make_index_sequence<512>{});
constexpr auto kMemStubs = mem_stubs(std::make_index_sequence<64>{});

// Insn::extra for memory forms: operand size in bytes | kStore.
constexpr uint8_t kStore = 0x80;

/// Fault-free-before-commit: make sure both pages of a store are writable before running it.
void probe_write(Cpu& c, uint64_t la, unsigned size) {
    c.translate(la, Access::Write, false);
    if (((la + size - 1) ^ la) & ~0xfffULL) c.translate(la + size - 1, Access::Write, false);
}

template <bool Mem>
void exec(Cpu& c, const Insn& i) {
    x87::check(c, true);
    x87::FsaveImage img;
    x87::to_fsave(c.fpu, img);
    alignas(16) uint8_t buf[16]{};
    const unsigned size = i.extra & 0x7f;
    const bool store = i.extra & kStore;
    uint64_t ea = 0, la = 0;
    if constexpr (Mem) {
        ea = effective_address(c, i);
        la = c.linear(i.seg, ea, size, store ? Access::Write : Access::Read);
        if (store) probe_write(c, la, size);
        else c.read_bytes_la(la, buf, size, Access::Read, false);
    }
    const uint64_t f = reinterpret_cast<StubFn>(i.imm)(&img, buf, c.rflags);
    const uint16_t fsw = x87::get16(img.b + 4);
    if constexpr (Mem) {
        // An unmasked exception other than precision leaves the destination unwritten
        // (SDM Vol. 1 8.5); the host's FSW.ES tells that one was raised (none was pending).
        const bool suppressed = (fsw & x87::kFswEs) && (fsw & ~c.fpu.fcw & 0x1f);
        if (store && !suppressed) c.write_bytes_la(la, buf, size, false);
    }
    x87::from_fsave(c.fpu, img);
    c.fpu.fop = i.imm2;
    c.fpu.fip = c.rip;
    if constexpr (Mem) c.fpu.fdp = ea;
    merge_flags(c, f, kArithFlags);
}

bool is_store(unsigned op3, unsigned reg) {
    switch (op3) {
        case 1: return reg == 2 || reg == 3;                        // FST/FSTP m32
        case 3: return reg == 1 || reg == 2 || reg == 3 || reg == 7;  // FISTTP FIST FISTP m32, FSTP m80
        case 5: return reg >= 1 && reg <= 3;                        // FISTTP FST FSTP m64
        case 7: return (reg >= 1 && reg <= 3) || reg == 6 || reg == 7;  // FISTTP FIST FISTP m16, FBSTP, FISTP m64
        default: return false;
    }
}

Handler select_exec(const DecodeView& d, Insn& i) {
    const unsigned op = d.ins.opcode;
    if (op < 0xd8 || op > 0xdf || (i.prefix & kPrefixLock)) return nullptr;
    const unsigned op3 = op & 7;
    const auto& m = d.ins.raw.modrm;
    i.imm2 = static_cast<uint16_t>((op3 << 8) | (m.mod << 6) | (m.reg << 3) | m.rm);
    if (m.mod == 3) {
        i.imm = reinterpret_cast<uint64_t>(kRegStubs[(op3 << 6) | (m.reg << 3) | m.rm]);
        return exec<false>;
    }
    unsigned size = 0;
    for (unsigned n = 0; n < d.ins.operand_count; ++n)
        if (d.ops[n].type == ZYDIS_OPERAND_TYPE_MEMORY) size = d.ops[n].size / 8;
    if (size != 2 && size != 4 && size != 8 && size != 10) return nullptr;
    i.imm = reinterpret_cast<uint64_t>(kMemStubs[(op3 << 3) | m.reg]);
    i.extra = static_cast<uint8_t>(size | (is_store(op3, m.reg) ? kStore : 0));
    return exec<true>;
}

}  // namespace

void register_x87_exec(HandlerTable& t) {
    for (ZydisMnemonic m : {
             ZYDIS_MNEMONIC_F2XM1, ZYDIS_MNEMONIC_FABS, ZYDIS_MNEMONIC_FADD, ZYDIS_MNEMONIC_FADDP,
             ZYDIS_MNEMONIC_FBLD, ZYDIS_MNEMONIC_FBSTP, ZYDIS_MNEMONIC_FCHS, ZYDIS_MNEMONIC_FCMOVB,
             ZYDIS_MNEMONIC_FCMOVBE, ZYDIS_MNEMONIC_FCMOVE, ZYDIS_MNEMONIC_FCMOVNB, ZYDIS_MNEMONIC_FCMOVNBE,
             ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNU, ZYDIS_MNEMONIC_FCMOVU, ZYDIS_MNEMONIC_FCOM,
             ZYDIS_MNEMONIC_FCOMI, ZYDIS_MNEMONIC_FCOMIP, ZYDIS_MNEMONIC_FCOMP, ZYDIS_MNEMONIC_FCOMPP,
             ZYDIS_MNEMONIC_FCOS, ZYDIS_MNEMONIC_FDECSTP, ZYDIS_MNEMONIC_FDIV, ZYDIS_MNEMONIC_FDIVP,
             ZYDIS_MNEMONIC_FDIVR, ZYDIS_MNEMONIC_FDIVRP, ZYDIS_MNEMONIC_FFREE, ZYDIS_MNEMONIC_FFREEP,
             ZYDIS_MNEMONIC_FIADD, ZYDIS_MNEMONIC_FICOM, ZYDIS_MNEMONIC_FICOMP, ZYDIS_MNEMONIC_FIDIV,
             ZYDIS_MNEMONIC_FIDIVR, ZYDIS_MNEMONIC_FILD, ZYDIS_MNEMONIC_FIMUL, ZYDIS_MNEMONIC_FINCSTP,
             ZYDIS_MNEMONIC_FIST, ZYDIS_MNEMONIC_FISTP, ZYDIS_MNEMONIC_FISTTP, ZYDIS_MNEMONIC_FISUB,
             ZYDIS_MNEMONIC_FISUBR, ZYDIS_MNEMONIC_FLD, ZYDIS_MNEMONIC_FLD1, ZYDIS_MNEMONIC_FLDL2E,
             ZYDIS_MNEMONIC_FLDL2T, ZYDIS_MNEMONIC_FLDLG2, ZYDIS_MNEMONIC_FLDLN2, ZYDIS_MNEMONIC_FLDPI,
             ZYDIS_MNEMONIC_FLDZ, ZYDIS_MNEMONIC_FMUL, ZYDIS_MNEMONIC_FMULP, ZYDIS_MNEMONIC_FNOP,
             ZYDIS_MNEMONIC_FPATAN, ZYDIS_MNEMONIC_FPREM, ZYDIS_MNEMONIC_FPREM1, ZYDIS_MNEMONIC_FPTAN,
             ZYDIS_MNEMONIC_FRNDINT, ZYDIS_MNEMONIC_FSCALE, ZYDIS_MNEMONIC_FSIN, ZYDIS_MNEMONIC_FSINCOS,
             ZYDIS_MNEMONIC_FSQRT, ZYDIS_MNEMONIC_FST, ZYDIS_MNEMONIC_FSTP, ZYDIS_MNEMONIC_FSTPNCE,
             ZYDIS_MNEMONIC_FSUB, ZYDIS_MNEMONIC_FSUBP, ZYDIS_MNEMONIC_FSUBR, ZYDIS_MNEMONIC_FSUBRP,
             ZYDIS_MNEMONIC_FTST, ZYDIS_MNEMONIC_FUCOM, ZYDIS_MNEMONIC_FUCOMI, ZYDIS_MNEMONIC_FUCOMIP,
             ZYDIS_MNEMONIC_FUCOMP, ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FXAM, ZYDIS_MNEMONIC_FXCH,
             ZYDIS_MNEMONIC_FXTRACT, ZYDIS_MNEMONIC_FYL2X, ZYDIS_MNEMONIC_FYL2XP1})
        t.add(m, select_exec);
}

}  // namespace popek::emu
