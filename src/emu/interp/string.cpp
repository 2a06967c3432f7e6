/// String instructions MOVS STOS LODS CMPS SCAS INS OUTS with REP/REPE/REPNE (SDM Vol. 2B).
/// A REP instruction runs at most kChunk iterations per execution and then restarts itself, so
/// interrupts and stop requests are seen during long copies (as on hardware, SDM Vol. 2B REP).
#include <algorithm>
#include <cstring>

#include "emu/interp/families.h"
#include "emu/interp/host_ops.h"

namespace popek::emu {

void check_io_permission(Cpu& c, uint16_t port, unsigned size);   // io.cpp

namespace {

constexpr uint64_t kChunk = 4096;
enum StrOp { kMovs, kStos, kLods, kCmps, kScas, kIns, kOuts };

/// REP MOVS / REP STOS in 64-bit mode, forward or (DF=1) backward: up to `max` iterations at
/// once, as many as lie in the current source and destination pages when the software TLB maps
/// both (then each iteration would have hit it: no fault, device access or watchpoint is possible
/// among them). Iterations run in order: a destination overlapping the source just ahead of it
/// (behind it, going down) repeats the source bytes as the one-by-one copy does. Returns the
/// iterations done (0: none, run one the normal way, which fills the TLB or faults exactly where
/// the instruction does).
template <int Op, class T>
uint64_t bulk_iterations(Cpu& c, const Insn& i, uint64_t amask, uint64_t max) {
    if (!c.mode64 || max < 2) return 0;
    const bool down = (c.rflags & kDf) != 0;
    const uint64_t si = c.gpr[hv::RSI] & amask, di = c.gpr[hv::RDI] & amask;
    // Offsets that could wrap at the address size within the chunk: the normal way.
    auto may_wrap = [&](uint64_t off) { return down ? (off & ~0xfffULL) == 0 : ((off | 0xfff) & amask) == amask; };
    if (may_wrap(di) || (Op == kMovs && may_wrap(si))) return 0;
    // Segmentation as the first iteration checks it: the source first.
    uint64_t sla = 0;
    if constexpr (Op == kMovs) sla = c.linear(i.seg, si, sizeof(T), Access::Read);
    const uint64_t dla = c.linear(kEs, di, sizeof(T), Access::Write);
    // Iterations left in the page of `la` (the first element's), in the direction of the copy.
    auto room = [&](uint64_t la) { return down ? (la & 0xfff) / sizeof(T) + 1 : (4096 - (la & 0xfff)) / sizeof(T); };
    uint64_t k = std::min<uint64_t>(max, room(dla));
    if constexpr (Op == kMovs) k = std::min<uint64_t>(k, room(sla));
    if (k < 2) return 0;
    const uint64_t bytes = k * sizeof(T), below = down ? bytes - sizeof(T) : 0;
    uint8_t* d = c.tlb_span(dla - below, bytes, Access::Write);   // the lowest address touched
    if (!d) return 0;
    if constexpr (Op == kMovs) {
        const uint8_t* src = c.tlb_span(sla - below, bytes, Access::Read);
        if (!src) return 0;
        auto element = [&](uint64_t n) {   // the n-th iteration's element
            const uint64_t at = down ? bytes - sizeof(T) - n * sizeof(T) : n * sizeof(T);
            T v;
            std::memcpy(&v, src + at, sizeof(T));
            std::memcpy(d + at, &v, sizeof(T));
        };
        if (down ? (src > d && src < d + bytes) : (d > src && d < src + bytes)) {
            for (uint64_t n = 0; n < k; ++n) element(n);   // overlapping in the copy's direction
        } else {
            std::memmove(d, src, bytes);
        }
    } else {
        const T v = static_cast<T>(c.gpr[hv::RAX]);
        if constexpr (sizeof(T) == 1) {
            std::memset(d, v, bytes);
        } else {
            for (uint64_t n = 0; n < k; ++n) std::memcpy(d + n * sizeof(T), &v, sizeof(T));
        }
    }
    auto advance = [&](int r) {
        const uint64_t v = (down ? c.gpr[r] - bytes : c.gpr[r] + bytes) & amask;
        c.gpr[r] = i.asize == 4 ? v : ((c.gpr[r] & ~amask) | v);
    };
    advance(hv::RDI);
    if constexpr (Op == kMovs) advance(hv::RSI);
    const uint64_t cnt = (c.gpr[hv::RCX] - k) & amask;
    c.gpr[hv::RCX] = i.asize == 4 ? cnt : ((c.gpr[hv::RCX] & ~amask) | cnt);
    return k;
}

template <int Op, class T>
void string_op(Cpu& c, const Insn& i) {
    const uint64_t amask = addr_mask(i.asize);
    const bool rep = i.prefix & (kPrefixRep | kPrefixRepne);
    const int64_t step = (c.rflags & kDf) ? -static_cast<int64_t>(sizeof(T)) : static_cast<int64_t>(sizeof(T));
    if constexpr (Op == kIns || Op == kOuts) check_io_permission(c, static_cast<uint16_t>(c.gpr[hv::RDX]), sizeof(T));
    auto advance = [&](int r) {
        uint64_t v = (c.gpr[r] + static_cast<uint64_t>(step)) & amask;
        c.gpr[r] = i.asize == 4 ? v : ((c.gpr[r] & ~amask) | v);
    };
    for (uint64_t n = 0;; ++n) {
        if (rep) {
            if ((c.gpr[hv::RCX] & amask) == 0) return;
            // After an iteration that made a device access: the accesses are handed out (and
            // replayed) per iteration, so the next one is a new execution (emu/mmu/io_log.cpp).
            if (n == kChunk || (n > 0 && c.exit_pending())) {
                c.next_rip = c.rip;   // restart the instruction after servicing events
                c.brk = true;
                return;
            }
        }
        if constexpr (Op == kMovs || Op == kStos) {
            if (rep) {
                const uint64_t k = bulk_iterations<Op, T>(c, i, amask, std::min(c.gpr[hv::RCX] & amask, kChunk - n));
                if (k) {
                    n += k - 1;
                    continue;
                }
            }
        }
        const uint64_t si = c.gpr[hv::RSI] & amask, di = c.gpr[hv::RDI] & amask;
        bool stop = false;
        if constexpr (Op == kMovs) {
            T v = c.read<T>(i.seg, si);
            c.write<T>(kEs, di, v);
            advance(hv::RSI);
            advance(hv::RDI);
        } else if constexpr (Op == kStos) {
            c.write<T>(kEs, di, static_cast<T>(c.gpr[hv::RAX]));
            advance(hv::RDI);
        } else if constexpr (Op == kLods) {
            T v = c.read<T>(i.seg, si);
            c.set_reg<T>(hv::RAX, v);
            advance(hv::RSI);
        } else if constexpr (Op == kCmps || Op == kScas) {
            T a = Op == kCmps ? c.read<T>(i.seg, si) : static_cast<T>(c.gpr[hv::RAX]);
            T b = c.read<T>(kEs, di);
            merge_flags(c, host::bin<T>(host::kCmp, a, b, 0), kArithFlags);
            if (Op == kCmps) advance(hv::RSI);
            advance(hv::RDI);
            if (i.prefix & kPrefixRepne) stop = c.rflags & kZf;
            else if (i.prefix & kPrefixRep) stop = !(c.rflags & kZf);
        } else if constexpr (Op == kIns) {
            // Check the destination before the port read so a fault does not lose input.
            (void)c.linear(kEs, di, sizeof(T), Access::Write);
            T v = static_cast<T>(c.port_in(static_cast<uint16_t>(c.gpr[hv::RDX]), sizeof(T)));
            c.write<T>(kEs, di, v);
            advance(hv::RDI);
        } else {
            T v = c.read<T>(i.seg, si);
            c.port_out(static_cast<uint16_t>(c.gpr[hv::RDX]), sizeof(T), static_cast<uint32_t>(v));
            advance(hv::RSI);
        }
        if (!rep) return;
        uint64_t cnt = (c.gpr[hv::RCX] - 1) & amask;
        c.gpr[hv::RCX] = i.asize == 4 ? cnt : ((c.gpr[hv::RCX] & ~amask) | cnt);
        if (stop) return;
    }
}

template <int Op>
Handler select_string(const DecodeView& d, Insn& i) {
    // MOVSD/CMPSD share their mnemonics with SSE2 instructions (XMM operands): not here.
    for (unsigned n = 0; n < d.ins.operand_count; ++n)
        if (d.ops[n].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(d.ops[n].reg.value) == ZYDIS_REGCLASS_XMM)
            return nullptr;
    switch (i.osize) {
        case 1: return string_op<Op, uint8_t>;
        case 2: return string_op<Op, uint16_t>;
        case 4: return string_op<Op, uint32_t>;
        default: return (Op == kIns || Op == kOuts) ? nullptr : string_op<Op, uint64_t>;
    }
}

}  // namespace

void register_string(HandlerTable& t) {
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ})
        t.add(m, select_string<kMovs>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ})
        t.add(m, select_string<kStos>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ})
        t.add(m, select_string<kLods>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ})
        t.add(m, select_string<kCmps>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ})
        t.add(m, select_string<kScas>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD})
        t.add(m, select_string<kIns>, kClsSensitive);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD})
        t.add(m, select_string<kOuts>, kClsSensitive);
}

}  // namespace popek::emu
