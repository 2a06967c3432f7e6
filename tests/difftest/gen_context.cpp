#include "gen_context.h"

#include <Zydis/Zydis.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace popek::difftest {
namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

[[noreturn]] void generator_bug(const char* what, std::string_view origin) {
    std::fprintf(stderr, "popek_difftest: generator bug in template '%.*s': %s\n",
                 static_cast<int>(origin.size()), origin.data(), what);
    std::abort();
}

}  // namespace

Rng::Rng(uint64_t seed) {
    for (auto& s : m_s) s = splitmix64(seed);
}

uint64_t Rng::next() {
    const uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
}

Gen::Gen(uint64_t seed, Case& out)
    : code_buffer(kMaxCode), rng(seed), cg(kMaxCode, code_buffer.data()), m_case(out) {
    Xbyak::ClearError();
}

int Gen::size() { return 8 << rng.below(4); }
int Gen::size_no8() { return 16 << rng.below(3); }

Xbyak::Reg Gen::fixed(int idx, int bits) {
    return Xbyak::Reg(idx, Xbyak::Operand::REG, bits, bits == 8 && idx >= 4);
}

Xbyak::Reg Gen::reg(OperandSet& ops, int bits, bool want_writable, uint32_t exclude) {
    if (ops.high8 && bits == 64) generator_bug("64-bit register next to AH..BH", current_template);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const int idx = static_cast<int>(rng.below(ops.high8 ? 8 : 16));
        // AH..BH encode as 4..7 without REX and stand for bits 8..15 of RAX..RBX.
        const bool high = bits == 8 && idx >= 4 && idx < 8 && !ops.rex && (ops.high8 || rng.chance(30));
        if (bits == 8 && idx >= 4 && idx < 8 && ops.high8 && !high) continue;
        const int gpr = high ? idx - 4 : idx;
        if (exclude & (1u << gpr)) continue;
        if (want_writable && !writable(gpr)) continue;
        if (high) {
            ops.high8 = true;
            return Xbyak::Reg(idx, Xbyak::Operand::REG, 8, false);
        }
        if (idx >= 8 || bits == 64 || (bits == 8 && idx >= 4)) ops.rex = true;
        return fixed(idx, bits);
    }
    generator_bug("no register satisfies the constraints", current_template);
}

Xbyak::Address Gen::mem(OperandSet& ops, int bits, int margin, uint32_t exclude, int align) {
    const int bytes = bits / 8;
    const uint64_t span = kBufferSize - static_cast<uint64_t>(bytes + 2 * margin);
    uint64_t offset = static_cast<uint64_t>(margin) + rng.below(span + 1);
    if (align > 1 || rng.chance(60)) {
        const uint64_t a = static_cast<uint64_t>(align > 1 ? align : bytes);
        offset = (offset + a - 1) / a * a;
        if (offset + static_cast<uint64_t>(bytes + margin) > kBufferSize) offset -= a;
    }
    const uint64_t addr = kDataAddr + offset;
    const int64_t from_base = static_cast<int64_t>(addr) - static_cast<int64_t>(kBaseValue);
    const Xbyak::AddressFrame frame(static_cast<uint32_t>(bits));
    const int base = m_case.base_reg;
    // Forms that need no REX when an AH..BH register is in the same instruction.
    unsigned form = static_cast<unsigned>(rng.below(10));
    if (ops.high8 && form >= 5) form = base < 8 ? 0 : 3;
    if (ops.high8 && base >= 8 && form < 3) form = 3;
    if (form < 3) {
        // [base + disp]: often near the base so disp8 is exercised.
        if (base >= 8) ops.rex = true;
        int64_t disp = from_base;
        if (rng.chance(40) && span > 256) {
            int64_t near = static_cast<int64_t>(rng.below(200)) - 100;
            if (align > 1) near -= near % align;   // the base (kBaseValue) is aligned: keep `align`
            const int64_t near_off = static_cast<int64_t>(kBaseValue - kDataAddr) + near;
            if (near_off >= margin && near_off + bytes + margin <= static_cast<int64_t>(kBufferSize))
                disp = near;
        }
        return frame[Xbyak::Reg64(base) + static_cast<int>(disp)];
    }
    if (form == 3) return frame[reinterpret_cast<const void*>(addr)];  // [disp32], SIB without base
    if (form == 4) {
        set_rip_target(addr);
        return frame[Xbyak::util::rip];  // displacement patched after encoding
    }
    // [base + index*scale + disp] with the index register preloaded by a MOV (no flags).
    OperandSet index_ops;
    const Xbyak::Reg idx = reg(index_ops, 64, true, exclude | (1u << 1) /*rcx*/);
    if (idx.getIdx() >= 8) ops.rex = true;
    if (base >= 8) ops.rex = true;
    const int scale = 1 << rng.below(4);
    const int64_t k = static_cast<int64_t>(rng.below(129)) - 64;
    const int64_t disp = from_base - k * scale;
    insn("index preload", FlagEffect::none(), [&](Xbyak::CodeGenerator& c) {
        if (k >= 0)
            c.mov(Xbyak::Reg32(idx.getIdx()), static_cast<uint32_t>(k));
        else
            c.mov(Xbyak::Reg64(idx.getIdx()), static_cast<uint64_t>(k));
    });
    ops.index_reg = idx.getIdx();
    if (form == 9) {  // 32-bit address size (0x67): the data lives below 4 GiB
        return frame[Xbyak::Reg32(base) + Xbyak::Reg32(idx.getIdx()) * scale + static_cast<int>(disp)];
    }
    return frame[Xbyak::Reg64(base) + Xbyak::Reg64(idx.getIdx()) * scale + static_cast<int>(disp)];
}

uint64_t Gen::imm(int bits) {
    static constexpr uint64_t kEdges[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
                                          0x7fffffff, 0x80000000, 0xffffffff, ~0ull, ~0ull - 1};
    uint64_t v = rng.chance(50) ? rng.pick(kEdges) : rng.next();
    if (rng.chance(20)) v = rng.below(16);
    // xbyak takes 16-bit immediates sign-extended to 32 bits, and 64-bit ones as imm32.
    switch (bits) {
        case 8: return v & 0xff;
        case 16: return static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(v)));
        case 32: return v & 0xffffffffu;
        default: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
    }
}

unsigned Gen::count() {
    static constexpr unsigned kCounts[] = {0, 1, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255};
    return rng.chance(80) ? rng.pick(kCounts) : static_cast<unsigned>(rng.below(256));
}

uint64_t Gen::interesting_value() {
    static constexpr uint64_t kEdges[] = {0, 1, ~0ull, 0x8000000000000000ull, 0x7fffffffffffffffull,
                                          0x80000000, 0x7fffffff, 0xffffffff, 0x100000000ull, 0x8000,
                                          0x80, 0xff, 0xffff};
    switch (rng.below(4)) {
        case 0: return rng.pick(kEdges);
        case 1: return rng.below(256);
        case 2: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(rng.next())));
        default: return rng.next();
    }
}

void Gen::ensure_flags(uint32_t flags) {
    const uint32_t missing = flags & ~m_flags.defined();
    if (missing == 0) return;
    for (;;) {
        switch (rng.below(5)) {
            case 0: {
                OperandSet ops;
                const int bits = size();
                const Xbyak::Reg a = reg(ops, bits, false);
                const Xbyak::Reg b = reg(ops, bits, false);
                insn("flag definer", FlagEffect::arith(), [&](auto& c) { c.cmp(a, b); });
                return;
            }
            case 1: {
                if (!can_push(8)) break;
                const uint32_t image = static_cast<uint32_t>(kFixedFlags | (rng.next() & kStatusFlags));
                insn("flag definer", FlagEffect::none(), [&](auto& c) { c.push(image); });
                insn("flag definer", {0, kStatusFlags, 0}, [&](auto& c) { c.popfq(); });
                return;
            }
            case 2:
                if (missing & kOF) break;
                insn("flag definer", {0, kStatusFlags & ~kOF, 0}, [&](auto& c) { c.sahf(); });
                return;
            case 3:
                if (flags & kAF) break;  // TEST leaves AF undefined
                {
                    OperandSet ops;
                    const int bits = size();
                    const Xbyak::Reg a = reg(ops, bits, false);
                    const Xbyak::Reg b = reg(ops, bits, false);
                    insn("flag definer", FlagEffect::logic(), [&](auto& c) { c.test(a, b); });
                }
                return;
            default:
                if (missing != kCF) break;
                insn("flag definer", {0, kCF, 0}, [&](auto& c) { rng.chance(50) ? c.clc() : c.stc(); });
                return;
        }
    }
}

bool Gen::patch_rip_target(size_t start, uint64_t target) {
    ZydisDecoder decoder;
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisDecodedInstruction in;
    const size_t end = cg.getSize();
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, nullptr, code_buffer.data() + start, end - start, &in)) ||
        in.length != end - start)
        generator_bug("emitted bytes do not decode as one instruction", current_template);
    if (!(in.attributes & ZYDIS_ATTRIB_HAS_MODRM) || in.raw.modrm.mod != 0 || in.raw.modrm.rm != 5 ||
        in.raw.disp.size != 32 || (in.attributes & ZYDIS_ATTRIB_HAS_SIB))
        return false;
    const int64_t disp = static_cast<int64_t>(target) - static_cast<int64_t>(kCodeAddr + end);
    const int32_t disp32 = static_cast<int32_t>(disp);
    std::memcpy(code_buffer.data() + start + in.raw.disp.offset, &disp32, 4);
    return true;
}

void Gen::finish_insn(std::string_view origin, FlagEffect effect, size_t start) {
    if (int err = Xbyak::GetError()) generator_bug(Xbyak::ConvertErrorToString(err), origin);
    if (m_rip_target != 0) patch_rip_target(start, m_rip_target);
    InsnRecord rec;
    rec.offset = static_cast<uint32_t>(start);
    rec.length = static_cast<uint32_t>(cg.getSize() - start);
    rec.effect = effect;
    rec.defined_before = m_flags.defined();
    rec.origin = origin;
    m_case.insns.push_back(rec);
    m_flags.apply(effect);
}

}  // namespace popek::difftest
