#pragma once
/// Differential harness for the engine's x87/SSE families: one instruction (assembled with
/// Xbyak) runs in the interpreter (64-bit ring 0 guest with identity paging, an IDT whose stubs
/// report the vector with OUT 0xf0) and natively on this host (a generated stub that loads the
/// same registers, FXRSTORs the same FPU/SSE state and FXSAVEs it back). Tests compare both.
#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "emu/cpu.h"
#include "emu/engine_shared.h"
#include "emu/interp/sse_common.h"
#include "emu/interp/x87_common.h"
#include "memory/guest_memory.h"

namespace popek::emu::test {

using Emit = std::function<void(Xbyak::CodeGenerator&)>;

/// Register/memory state of one test case. The instruction under test may not use RSP or RDI;
/// RBX points to `mem` (a guest address in the engine, a host address natively).
struct FpState {
    FxsaveArea fx;
    uint64_t gpr[16]{};
    uint64_t rflags = 2;
    alignas(64) uint8_t mem[1024]{};
};

struct GuestRun {
    FpState out;
    bool faulted = false;
    uint8_t vector = 0;
    uint64_t error = 0;   ///< error code when the vector pushes one
    uint64_t saved_rip = 0;   ///< RIP pushed by the exception
};

inline constexpr uint64_t kCodeGpa = 0x10000, kDataGpa = 0x20000, kStackTop = 0x80000;
inline constexpr uint64_t kGdtGpa = 0x6000, kIdtGpa = 0x4000, kStubGpa = 0x5000;
inline constexpr uint64_t kCr0Default = hv::kCr0Pe | hv::kCr0Mp | hv::kCr0Et | hv::kCr0Ne | hv::kCr0Pg;
inline constexpr uint64_t kCr4Default = hv::kCr4Pae | hv::kCr4Osfxsr | hv::kCr4Osxmmexcpt;

inline std::vector<uint8_t> assemble(const Emit& emit) {
    Xbyak::CodeGenerator g(4096);
    emit(g);
    return {g.getCode(), g.getCode() + g.getSize()};
}

inline bool has_error_code(uint8_t v) { return v == 8 || (v >= 10 && v <= 14) || v == 17; }

/// One guest machine, reused by every run of a test.
class GuestMachine {
public:
    GuestMachine() : m_mem(memory::GuestMemory::create(4 << 20).value()), m_shared(m_mem, 1, 1'000'000'000) {
        // 4-level identity map of the first 4 MiB with 2 MiB pages (SDM Vol. 3A 4.5).
        put<uint64_t>(0x1000, 0x2000 | 3);
        put<uint64_t>(0x2000, 0x3000 | 3);
        put<uint64_t>(0x3000, 0x000000 | 0x83);
        put<uint64_t>(0x3008, 0x200000 | 0x83);
        put<uint64_t>(kGdtGpa + 8, 0x00209a0000000000ULL);    // 64-bit code, selector 8
        put<uint64_t>(kGdtGpa + 16, 0x0000920000000000ULL);   // data, selector 0x10
        for (unsigned v = 0; v < 32; ++v) {
            const uint64_t stub = kStubGpa + 16 * v;
            const uint8_t code[] = {0xb0, static_cast<uint8_t>(v), 0xe6, 0xf0, 0xf4};   // mov al,v; out 0xf0,al; hlt
            std::memcpy(m_mem.host_ptr(stub, sizeof(code)), code, sizeof(code));
            // 64-bit interrupt gate (SDM Vol. 3A figure 6-8).
            const uint64_t lo = (stub & 0xffff) | (8ULL << 16) | (0x8eULL << 40) | (((stub >> 16) & 0xffff) << 48);
            put<uint64_t>(kIdtGpa + 16 * v, lo);
            put<uint64_t>(kIdtGpa + 16 * v + 8, stub >> 32);
        }
    }

    template <class T> void put(uint64_t gpa, T v) { std::memcpy(m_mem.host_ptr(gpa, sizeof(T)), &v, sizeof(T)); }
    uint8_t* ram(uint64_t gpa, uint64_t len) { return m_mem.host_ptr(gpa, len); }

    /// Runs `code` once from `in` (RBX is set to the data address). cr0/cr4 override defaults.
    GuestRun run(const std::vector<uint8_t>& code, const FpState& in, uint64_t cr0 = kCr0Default,
                 uint64_t cr4 = kCr4Default, uint64_t data_gpa = kDataGpa) {
        std::memcpy(ram(kCodeGpa, code.size() + 1), code.data(), code.size());
        ram(kCodeGpa, code.size() + 1)[code.size()] = 0xf4;   // hlt
        std::memcpy(ram(data_gpa, sizeof(in.mem)), in.mem, sizeof(in.mem));
        Cpu cpu(m_shared, 0, nullptr);
        hv::CpuState st;
        for (int r = 0; r < 16; ++r) st.gpr[static_cast<size_t>(r)] = in.gpr[r];
        st.gpr[hv::RBX] = data_gpa;
        st.gpr[hv::RSP] = kStackTop;
        st.rip = kCodeGpa;
        st.rflags = (in.rflags & kArithFlags) | 2;
        st.cs = hv::Segment{0, 0xffffffff, 8, 0xb, true, 0, true, false, true, false, true, false};
        const hv::Segment data{0, 0xffffffff, 0x10, 3, true, 0, true, false, false, true, true, false};
        st.ds = st.es = st.ss = st.fs = st.gs = data;
        st.tr = hv::Segment{0, 0x67, 0, 0xb, false, 0, true, false, false, false, false, false};
        st.gdt = {kGdtGpa, 23};
        st.idt = {kIdtGpa, 32 * 16 - 1};
        st.cr0 = cr0;
        st.cr3 = 0x1000;
        st.cr4 = cr4;
        st.efer = hv::kEferLme | hv::kEferLma;
        cpu.load_state(st);
        cpu.fpu = in.fx;
        GuestRun r;
        hv::VcpuExit exit = cpu.execute();
        if (auto* out = std::get_if<hv::PioOut>(&exit)) {
            EXPECT_EQ(out->port, 0xf0);
            r.faulted = true;
            r.vector = out->data[0];
            if (has_error_code(r.vector)) std::memcpy(&r.error, ram(cpu.gpr[hv::RSP], 8), 8);
            std::memcpy(&r.saved_rip, ram(cpu.gpr[hv::RSP] + (has_error_code(r.vector) ? 8 : 0), 8), 8);
        } else {
            EXPECT_TRUE(std::holds_alternative<hv::Halt>(exit));
            EXPECT_EQ(cpu.rip, kCodeGpa + code.size() + 1) << "did not run to the HLT";
        }
        for (int k = 0; k < 16; ++k) r.out.gpr[k] = cpu.gpr[k];
        r.out.rflags = cpu.rflags;
        r.out.fx = cpu.fpu;
        std::memcpy(r.out.mem, ram(data_gpa, sizeof(r.out.mem)), sizeof(r.out.mem));
        return r;
    }

private:
    memory::GuestMemory m_mem;
    EngineShared m_shared;
};

/// Host block: [0] the state pointer's FpState, host FPU state saved in `host_fx`.
struct HostFrame {
    FpState* st;
    alignas(16) uint8_t host_fx[512];
};

inline void emit_bytes(Xbyak::CodeGenerator& g, std::initializer_list<uint8_t> bytes) {
    for (uint8_t b : bytes) g.db(b);
}

/// FXSAVE (reg 0) / FXRSTOR (reg 1) [rdi + disp32] (Xbyak has no mnemonic for them).
inline void fx_rdi(Xbyak::CodeGenerator& g, unsigned reg, size_t disp) {
    g.db(0x0f);
    g.db(0xae);
    g.db(0x80 | (reg << 3) | 7);
    g.dd(static_cast<uint32_t>(disp));
}

/// Runs the instruction natively. RBX = the host copy of mem; RDI holds the frame.
inline FpState run_host(const Emit& emit, const FpState& in) {
    using namespace Xbyak::util;
    auto frame = std::make_unique<HostFrame>();
    auto st = std::make_unique<FpState>(in);
    frame->st = st.get();
    st->gpr[hv::RBX] = reinterpret_cast<uint64_t>(st->mem);
    Xbyak::CodeGenerator g(8192);
    const Xbyak::Reg64 regs[16] = {rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15};
    for (auto r : {rbx, rbp, r12, r13, r14, r15}) g.push(r);
    g.push(rdi);
    fx_rdi(g, 0, offsetof(HostFrame, host_fx));
    g.mov(rdi, g.ptr[rdi + offsetof(HostFrame, st)]);
    fx_rdi(g, 1, offsetof(FpState, fx));
    g.push(g.qword[rdi + offsetof(FpState, rflags)]);
    g.popfq();
    for (int r = 0; r < 16; ++r)
        if (r != hv::RSP && r != hv::RDI) g.mov(regs[r], g.ptr[rdi + offsetof(FpState, gpr) + 8 * r]);
    emit(g);
    for (int r = 0; r < 16; ++r)
        if (r != hv::RSP && r != hv::RDI) g.mov(g.ptr[rdi + offsetof(FpState, gpr) + 8 * r], regs[r]);
    g.pushfq();
    g.pop(g.qword[rdi + offsetof(FpState, rflags)]);
    fx_rdi(g, 0, offsetof(FpState, fx));
    g.pop(rdi);
    fx_rdi(g, 1, offsetof(HostFrame, host_fx));
    for (auto r : {r15, r14, r13, r12, rbp, rbx}) g.pop(r);
    g.ret();
    g.ready();
    g.getCode<void (*)(HostFrame*)>()(frame.get());
    st->gpr[hv::RBX] = in.gpr[hv::RBX];
    return *st;
}

/// Compares architectural results: GPRs (but RSP/RDI/RBX), arithmetic flags, x87 control/status/
/// abridged tags and registers, MXCSR, XMM0-15, the data buffer.
inline void expect_same(const FpState& guest, const FpState& host, const std::string& what) {
    for (int r = 0; r < 16; ++r) {
        if (r == hv::RSP || r == hv::RDI || r == hv::RBX) continue;
        EXPECT_EQ(guest.gpr[r], host.gpr[r]) << what << ": GPR " << r;
    }
    EXPECT_EQ(guest.rflags & kArithFlags, host.rflags & kArithFlags) << what << ": RFLAGS";
    EXPECT_EQ(guest.fx.fcw, host.fx.fcw) << what << ": FCW";
    EXPECT_EQ(guest.fx.fsw, host.fx.fsw) << what << ": FSW";
    EXPECT_EQ(guest.fx.ftw, host.fx.ftw) << what << ": FTW";
    EXPECT_EQ(guest.fx.mxcsr, host.fx.mxcsr) << what << ": MXCSR";
    for (int k = 0; k < 8; ++k)
        EXPECT_EQ(0, std::memcmp(guest.fx.st[k], host.fx.st[k], 10)) << what << ": ST" << k;
    for (int k = 0; k < 16; ++k)
        EXPECT_EQ(0, std::memcmp(guest.fx.xmm[k], host.fx.xmm[k], 16)) << what << ": XMM" << k;
    EXPECT_EQ(0, std::memcmp(guest.mem, host.mem, sizeof(guest.mem))) << what << ": memory";
}

/// Edge-value pools for random states.
inline uint32_t pick_f32(std::mt19937_64& rng) {
    static const uint32_t pool[] = {0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000,
                                    0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x00000001, 0x807fffff,
                                    0x00800000, 0x7f7fffff, 0xff7fffff, 0x4f000000, 0xcf000000, 0x4effffff,
                                    0x3fc00000, 0x40490fdb, 0x3eaaaaab, 0x5f000000, 0xdf000000, 0x3f000000};
    if (rng() % 3 == 0) return static_cast<uint32_t>(rng());
    return pool[rng() % std::size(pool)];
}
inline uint64_t pick_f64(std::mt19937_64& rng) {
    static const uint64_t pool[] = {0, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
                                    0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
                                    0xfff8000000000000, 0x7ff0000000000001, 0x7ff4000000000000, 1,
                                    0x800fffffffffffff, 0x0010000000000000, 0x7fefffffffffffff,
                                    0x41e0000000000000, 0xc1e0000000000000, 0x43e0000000000000,
                                    0xc3e0000000000000, 0x41dfffffffc00000, 0x3ff8000000000000,
                                    0x400921fb54442d18, 0x3fd5555555555555, 0x3fe0000000000000,
                                    0x4330000000000000, 0xbfe0000000000000};
    if (rng() % 3 == 0) return rng();
    return pool[rng() % std::size(pool)];
}

/// A random state: XMM lanes as floats, doubles or raw bits, GPRs random or small, flags random,
/// MXCSR with every exception masked and a random rounding mode (FTZ sometimes).
inline FpState random_state(std::mt19937_64& rng) {
    FpState s;
    for (auto& x : s.fx.xmm) {
        switch (rng() % 4) {
            case 0: for (int k = 0; k < 4; ++k) { uint32_t v = pick_f32(rng); std::memcpy(x + 4 * k, &v, 4); } break;
            case 1: for (int k = 0; k < 2; ++k) { uint64_t v = pick_f64(rng); std::memcpy(x + 8 * k, &v, 8); } break;
            case 2: for (int k = 0; k < 16; ++k) x[k] = static_cast<uint8_t>(rng() % 3 == 0 ? 0 : rng()); break;
            default: for (int k = 0; k < 2; ++k) { uint64_t v = rng(); std::memcpy(x + 8 * k, &v, 8); } break;
        }
    }
    for (auto& g : s.gpr) g = rng() % 2 ? rng() : rng() % 64;
    s.rflags = rng() & kArithFlags;
    s.fx.mxcsr = 0x1f80 | (static_cast<uint32_t>(rng() % 4) << 13) | (rng() % 5 == 0 ? 0x8000u : 0u) |
                 (rng() % 5 == 0 ? 0x40u & sse::mxcsr_mask() : 0u);   // FTZ, DAZ
    for (size_t k = 0; k < sizeof(s.mem); k += 8) {
        uint64_t v = rng() % 2 ? pick_f64(rng) : (static_cast<uint64_t>(pick_f32(rng)) << 32) | pick_f32(rng);
        std::memcpy(s.mem + k, &v, 8);
    }
    return s;
}

inline void put80(uint8_t* dst, uint64_t mant, uint16_t se) {
    std::memcpy(dst, &mant, 8);
    std::memcpy(dst + 8, &se, 2);
}

inline void random_x87_value(std::mt19937_64& rng, uint8_t* dst) {
    switch (rng() % 14) {
        case 0: put80(dst, 0, rng() % 2 ? 0x8000 : 0); break;                                   // +-0
        case 1: put80(dst, 1ULL << 63, static_cast<uint16_t>(0x7fff | (rng() % 2) << 15)); break;  // +-inf
        case 2: put80(dst, 3ULL << 62, 0x7fff); break;                                           // QNaN
        case 3: put80(dst, (1ULL << 63) | 1, 0x7fff); break;                                     // SNaN
        case 4: put80(dst, rng() >> 1, rng() % 2 ? 0x8000 : 0); break;                           // denormal
        case 5: put80(dst, (1ULL << 63) | (rng() >> 1), static_cast<uint16_t>(0x7ffe - rng() % 4)); break;  // huge
        case 6: put80(dst, (1ULL << 63) | (rng() >> 1), static_cast<uint16_t>(1 + rng() % 4)); break;       // tiny
        case 7: put80(dst, (1ULL << 63), 0x3fff); break;                                         // 1.0
        default: {   // ordinary values around 1, some integral
            long double v = static_cast<long double>(static_cast<int64_t>(rng() % 200000) - 100000) /
                            (rng() % 2 ? 1.0L : static_cast<long double>(1 + rng() % 1000));
            std::memcpy(dst, &v, 10);
            break;
        }
    }
}

/// A random x87 stack. Mostly all exceptions masked; sometimes some unmasked.
inline FpState random_x87_state(std::mt19937_64& rng) {
    FpState s = random_state(rng);
    const unsigned top = static_cast<unsigned>(rng() % 8), depth = static_cast<unsigned>(rng() % 9);
    const uint16_t pc[] = {0x000, 0x200, 0x300, 0x300};
    s.fx.fcw = static_cast<uint16_t>(0x47f & ~0x300u) | pc[rng() % 4] | static_cast<uint16_t>((rng() % 4) << 10);
    if (rng() % 6 == 0) s.fx.fcw = static_cast<uint16_t>(s.fx.fcw & ~(rng() & 0x3f));
    s.fx.fsw = static_cast<uint16_t>((top << 11) | (rng() & (x87::kFswC0 | x87::kFswC1 | x87::kFswC2 | x87::kFswC3)));
    s.fx.ftw = 0;
    for (unsigned k = 0; k < 8; ++k) {
        random_x87_value(rng, s.fx.st[k]);
        if (k < depth) s.fx.ftw = static_cast<uint8_t>(s.fx.ftw | (1u << ((top + k) & 7)));
    }
    return s;
}

/// Runs `emit` on `cases` random states in both engines and compares.
inline void diff_random(GuestMachine& m, const std::string& name, const Emit& emit, int cases = 300,
                        bool x87_stack = false) {
    std::mt19937_64 rng(std::hash<std::string>{}(name));
    const auto code = assemble(emit);
    for (int n = 0; n < cases; ++n) {
        FpState in = x87_stack ? random_x87_state(rng) : random_state(rng);
        GuestRun g = m.run(code, in);
        ASSERT_FALSE(g.faulted) << name << ": vector " << int(g.vector);
        FpState h = run_host(emit, in);
        expect_same(g.out, h, name + " case " + std::to_string(n));
        if (::testing::Test::HasFailure()) return;
    }
}

/// The guest machine the fp tests share (built once: memory, page tables, IDT, the interpreter).
inline GuestMachine& fp_machine() {
    static GuestMachine m;
    return m;
}

/// One instruction form to compare: its name (also the seed of its random states) and its code.
struct FpCase {
    const char* name;
    Emit emit;
};

/// diff_random() for each case on `n` random states (x87_stack: random x87 stacks, TOP and
/// tags); stops at the first case that fails.
inline void run_fp_cases(const std::vector<FpCase>& cases, int n, bool x87_stack) {
    for (const FpCase& c : cases) {
        SCOPED_TRACE(c.name);
        diff_random(fp_machine(), c.name, c.emit, n, x87_stack);
        if (::testing::Test::HasFailure()) return;
    }
}

}  // namespace popek::emu::test
