/// Data movement and flag instructions: MOV (GPR forms), MOVZX MOVSX MOVSXD, LEA, XCHG, CMOVcc,
/// CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF SAHF, CMC CLC STC CLD STD, XLAT, NOP forms, fences, UD2.
#include <sched.h>

#include <atomic>

#include "emu/interp/families.h"

namespace popek::emu {

Handler select_mov_cr(const DecodeView& d, Insn& i);     // system.cpp
Handler select_mov_dr(const DecodeView& d, Insn& i);     // system.cpp
Handler select_mov_sreg(const DecodeView& d, Insn& i);   // segment_ops.cpp

namespace {

template <class T> void mov_rr(Cpu& c, const Insn& i) { c.set_reg<T>(i.r0, c.reg<T>(i.r1)); }
template <class T> void mov_ri(Cpu& c, const Insn& i) { c.set_reg<T>(i.r0, static_cast<T>(i.imm)); }
template <class T> void mov_rm(Cpu& c, const Insn& i) { c.set_reg<T>(i.r0, read_mem<T>(c, i)); }
template <class T> void mov_mr(Cpu& c, const Insn& i) { write_mem<T>(c, i, c.reg<T>(i.r1)); }
template <class T> void mov_mi(Cpu& c, const Insn& i) { write_mem<T>(c, i, static_cast<T>(i.imm)); }

template <template <class> class H>
Handler pick(unsigned size);
template <class T> struct MovRR { static void run(Cpu& c, const Insn& i) { mov_rr<T>(c, i); } };

#define POPEK_BY_SIZE(fn, size)                                                                     \
    ((size) == 1 ? static_cast<Handler>(fn<uint8_t>) : (size) == 2 ? static_cast<Handler>(fn<uint16_t>) \
     : (size) == 4 ? static_cast<Handler>(fn<uint32_t>) : static_cast<Handler>(fn<uint64_t>))

Handler select_mov(const DecodeView& d, Insn& i) {
    for (unsigned n = 0; n < 2 && n < d.ins.operand_count_visible; ++n) {
        if (d.ops[n].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
        ZydisRegisterClass cls = ZydisRegisterGetClass(d.ops[n].reg.value);
        if (cls == ZYDIS_REGCLASS_CONTROL) return select_mov_cr(d, i);
        if (cls == ZYDIS_REGCLASS_DEBUG) return select_mov_dr(d, i);
        if (cls == ZYDIS_REGCLASS_SEGMENT) return select_mov_sreg(d, i);
    }
    if (i.k0 == kOpReg && i.k1 == kOpReg) return POPEK_BY_SIZE(mov_rr, i.osize);
    if (i.k0 == kOpReg && i.k1 == kOpImm) return POPEK_BY_SIZE(mov_ri, i.osize);
    if (i.k0 == kOpReg && i.k1 == kOpMem) return POPEK_BY_SIZE(mov_rm, i.osize);
    if (i.k0 == kOpMem && i.k1 == kOpReg) return POPEK_BY_SIZE(mov_mr, i.osize);
    if (i.k0 == kOpMem && i.k1 == kOpImm) return POPEK_BY_SIZE(mov_mi, i.osize);
    return nullptr;
}

template <bool Signed>
void movx(Cpu& c, const Insn& i) {
    uint64_t v;
    switch (i.size1) {
        case 1: v = get_op1<uint8_t>(c, i); break;
        case 2: v = get_op1<uint16_t>(c, i); break;
        default: v = get_op1<uint32_t>(c, i); break;
    }
    if (Signed) v = sext(v, i.size1);
    switch (i.osize) {
        case 2: c.set_reg<uint16_t>(i.r0, static_cast<uint16_t>(v)); break;
        case 4: c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(v)); break;
        default: c.gpr[i.r0] = v; break;
    }
}

void lea(Cpu& c, const Insn& i) {
    uint64_t ea = effective_address(c, i);
    switch (i.osize) {
        case 2: c.set_reg<uint16_t>(i.r0, static_cast<uint16_t>(ea)); break;
        case 4: c.set_reg<uint32_t>(i.r0, static_cast<uint32_t>(ea)); break;
        default: c.gpr[i.r0] = ea; break;
    }
}

template <class T>
void xchg(Cpu& c, const Insn& i) {
    if (i.k0 == kOpReg && i.k1 == kOpReg) {
        T a = c.reg<T>(i.r0), b = c.reg<T>(i.r1);
        c.set_reg<T>(i.r0, b);
        c.set_reg<T>(i.r1, a);
        return;
    }
    // XCHG with memory is always locked (SDM Vol. 2B XCHG).
    int r = i.k0 == kOpReg ? i.r0 : i.r1;
    T v = c.reg<T>(r), old;
    if (T* p = c.rmw_ptr<T>(i.seg, effective_address(c, i))) {
        old = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
    } else {
        uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
        old = c.read_la<T>(la);
        c.write_la<T>(la, v);
    }
    c.set_reg<T>(r, old);
}

template <class T>
void cmov(Cpu& c, const Insn& i) {
    T v = get_op1<T>(c, i);   // the source is read (and may fault) even if the condition is false
    if (condition(c.rflags, i.extra)) c.set_reg<T>(i.r0, v);
    else if (sizeof(T) == 4) c.set_reg<uint32_t>(i.r0, c.reg<uint32_t>(i.r0));   // zero-extends in 64-bit mode
}

void convert_a(Cpu& c, const Insn& i) {   // CBW / CWDE / CDQE
    uint64_t a = c.gpr[hv::RAX];
    if (i.osize == 2) c.set_reg<uint16_t>(hv::RAX, static_cast<uint16_t>(sext(a, 1)));
    else if (i.osize == 4) c.set_reg<uint32_t>(hv::RAX, static_cast<uint32_t>(sext(a, 2)));
    else c.gpr[hv::RAX] = sext(a, 4);
}

void convert_d(Cpu& c, const Insn& i) {   // CWD / CDQ / CQO
    uint64_t a = c.gpr[hv::RAX];
    if (i.osize == 2) c.set_reg<uint16_t>(hv::RDX, (a & 0x8000) ? 0xffff : 0);
    else if (i.osize == 4) c.set_reg<uint32_t>(hv::RDX, (a & 0x80000000u) ? 0xffffffffu : 0);
    else c.gpr[hv::RDX] = (a >> 63) ? ~0ULL : 0;
}

void lahf(Cpu& c, const Insn&) { c.set_reg<uint8_t>(16, static_cast<uint8_t>((c.rflags & 0xd5) | 2)); }
void sahf(Cpu& c, const Insn&) {
    c.rflags = (c.rflags & ~0xd5ULL) | (c.reg<uint8_t>(16) & 0xd5);
}
void cmc(Cpu& c, const Insn&) { c.rflags ^= kCf; }
void clc(Cpu& c, const Insn&) { c.rflags &= ~kCf; }
void stc(Cpu& c, const Insn&) { c.rflags |= kCf; }
void cld(Cpu& c, const Insn&) { c.rflags &= ~kDf; }
void std_(Cpu& c, const Insn&) { c.rflags |= kDf; }
void nop(Cpu&, const Insn&) {}
/// PAUSE marks a spin-wait loop (SDM Vol. 2B PAUSE). A vCPU spinning for a lock or an answer from
/// another vCPU gives its host core away now and then, as KVM's pause-loop exiting does: on a
/// host with fewer free cores than vCPU threads, the vCPU it waits for may be the one not running.
void pause(Cpu& c, const Insn&) {
    constexpr uint32_t kYieldEvery = 256;   // a few microseconds of spinning between yields
    Cpu::IdleStats& idle = c.mutable_idle_stats();
    if (++idle.pauses % kYieldEvery == 0) {
        ++idle.pause_yields;
        sched_yield();
    } else {
        __builtin_ia32_pause();
    }
}
void fence(Cpu&, const Insn&) { std::atomic_thread_fence(std::memory_order_seq_cst); }
void ud(Cpu& c, const Insn&) { c.raise(kUd); }

void xlat(Cpu& c, const Insn& i) {
    uint64_t ea = (c.gpr[hv::RBX] + (c.gpr[hv::RAX] & 0xff)) & addr_mask(i.asize);
    c.set_reg<uint8_t>(hv::RAX, c.read<uint8_t>(i.seg, ea));
}

Handler fixed(Handler h) { return h; }

}  // namespace

void register_data(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_MOV, select_mov);
    t.add(ZYDIS_MNEMONIC_MOVZX, [](const DecodeView&, Insn&) -> Handler { return movx<false>; });
    t.add(ZYDIS_MNEMONIC_MOVSX, [](const DecodeView&, Insn&) -> Handler { return movx<true>; });
    t.add(ZYDIS_MNEMONIC_MOVSXD, [](const DecodeView&, Insn&) -> Handler { return movx<true>; });
    t.add(ZYDIS_MNEMONIC_LEA, [](const DecodeView&, Insn& i) -> Handler { return i.k1 == kOpMem ? lea : nullptr; });
    t.add(ZYDIS_MNEMONIC_XCHG, [](const DecodeView&, Insn& i) -> Handler { return POPEK_BY_SIZE(xchg, i.osize); });
    auto cmov_sel = [](const DecodeView& d, Insn& i) -> Handler {
        i.extra = d.ins.opcode & 0xf;
        return i.osize == 2 ? static_cast<Handler>(cmov<uint16_t>) : i.osize == 4 ? static_cast<Handler>(cmov<uint32_t>)
                                                                  : static_cast<Handler>(cmov<uint64_t>);
    };
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVNB,
                            ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
                            ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
                            ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE})
        t.add(m, cmov_sel);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE})
        t.add(m, [](const DecodeView&, Insn&) { return fixed(convert_a); });
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_CQO})
        t.add(m, [](const DecodeView&, Insn&) { return fixed(convert_d); });
    t.add(ZYDIS_MNEMONIC_LAHF, [](const DecodeView&, Insn&) { return fixed(lahf); });
    t.add(ZYDIS_MNEMONIC_SAHF, [](const DecodeView&, Insn&) { return fixed(sahf); });
    t.add(ZYDIS_MNEMONIC_CMC, [](const DecodeView&, Insn&) { return fixed(cmc); });
    t.add(ZYDIS_MNEMONIC_CLC, [](const DecodeView&, Insn&) { return fixed(clc); });
    t.add(ZYDIS_MNEMONIC_STC, [](const DecodeView&, Insn&) { return fixed(stc); });
    t.add(ZYDIS_MNEMONIC_CLD, [](const DecodeView&, Insn&) { return fixed(cld); });
    t.add(ZYDIS_MNEMONIC_STD, [](const DecodeView&, Insn&) { return fixed(std_); });
    t.add(ZYDIS_MNEMONIC_XLAT, [](const DecodeView&, Insn&) { return fixed(xlat); });
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_NOP, ZYDIS_MNEMONIC_ENDBR32, ZYDIS_MNEMONIC_ENDBR64, ZYDIS_MNEMONIC_PREFETCH,
                            ZYDIS_MNEMONIC_PREFETCHNTA, ZYDIS_MNEMONIC_PREFETCHT0, ZYDIS_MNEMONIC_PREFETCHT1,
                            ZYDIS_MNEMONIC_PREFETCHT2, ZYDIS_MNEMONIC_PREFETCHW, ZYDIS_MNEMONIC_CLFLUSH})
        t.add(m, [](const DecodeView&, Insn&) { return fixed(nop); });
    t.add(ZYDIS_MNEMONIC_PAUSE, [](const DecodeView&, Insn&) { return fixed(pause); });
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_LFENCE, ZYDIS_MNEMONIC_SFENCE, ZYDIS_MNEMONIC_MFENCE})
        t.add(m, [](const DecodeView&, Insn&) { return fixed(fence); });
    t.add(ZYDIS_MNEMONIC_UD2, [](const DecodeView&, Insn&) { return fixed(ud); });
    t.add(ZYDIS_MNEMONIC_UD0, [](const DecodeView&, Insn&) { return fixed(ud); });
    t.add(ZYDIS_MNEMONIC_UD1, [](const DecodeView&, Insn&) { return fixed(ud); });
}

}  // namespace popek::emu
