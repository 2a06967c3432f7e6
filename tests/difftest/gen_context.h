#pragma once
/// The state templates use while emitting one case: the random source, the xbyak assembler,
/// operand pickers that respect the reserved registers and the data buffer's bounds, and the
/// recorder that notes each instruction's offset and RFLAGS effect.
#define XBYAK_NO_EXCEPTION
#include <xbyak/xbyak.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "flags.h"
#include "generator.h"

namespace popek::difftest {

/// xoshiro256** seeded through splitmix64: fixed algorithm, so cases reproduce across builds.
class Rng {
public:
    explicit Rng(uint64_t seed);
    uint64_t next();
    /// Uniform in [0, n), n > 0.
    uint64_t below(uint64_t n) { return next() % n; }
    bool chance(unsigned percent) { return below(100) < percent; }
    template <class T, size_t N>
    T pick(const T (&items)[N]) { return items[below(N)]; }

private:
    uint64_t m_s[4];
};

/// Encoding constraints collected while the operands of one instruction are picked: a high-byte
/// register (AH..BH) cannot share an instruction with a REX prefix (SDM Vol. 2A 2.2.1.2).
struct OperandSet {
    bool high8 = false;
    bool rex = false;
    int index_reg = -1;   ///< index register preloaded by mem(), never reused by the same template
};

class Gen {
public:
    Gen(uint64_t seed, Case& out);
    Gen(const Gen&) = delete;
    Gen& operator=(const Gen&) = delete;

    static constexpr size_t kMaxCode = kCodeSize - 64;   ///< room for the runners' tails
    std::vector<uint8_t> code_buffer;   ///< xbyak writes here (declared before cg on purpose)
    Rng rng;
    Xbyak::CodeGenerator cg;

    /// Random operand size in bits: 8, 16, 32 or 64 (or without 8).
    int size();
    int size_no8();
    /// A random GPR of `bits`. Writable picks never return RSP or the reserved base register.
    /// `exclude` is a mask of GPR numbers not to return.
    Xbyak::Reg reg(OperandSet& ops, int bits, bool writable, uint32_t exclude = 0);
    /// The GPR `idx` as a `bits`-wide register (low byte for 8, never AH..BH).
    static Xbyak::Reg fixed(int idx, int bits);
    /// A memory operand of `bits` inside the data buffer with `margin` bytes free on both sides.
    /// May emit a preload of an index register first. `exclude`: GPRs not to use as index.
    Xbyak::Address mem(OperandSet& ops, int bits, int margin = 0, uint32_t exclude = 0, int align = 1);
    /// Calls `f(operand)` with either a register (writable as asked) or a memory operand whose
    /// index register is not in `exclude` (registers the template loads after picking).
    template <class F>
    void rm(OperandSet& ops, int bits, bool writable, F&& f, uint32_t exclude = 0, unsigned mem_percent = 40) {
        if (rng.chance(mem_percent)) {
            const Xbyak::Address a = mem(ops, bits, 0, exclude);
            f(static_cast<const Xbyak::Operand&>(a));
        } else {
            const Xbyak::Reg r = reg(ops, bits, writable);
            f(static_cast<const Xbyak::Operand&>(r));
        }
    }
    /// Makes RIP-relative operands of this template's instructions address `target`.
    void set_rip_target(uint64_t target) { m_rip_target = target; }
    /// An immediate worth testing for a `bits`-wide operand, in the form xbyak takes: 8 bits
    /// zero-extended, 16 bits sign-extended to 32, 32 bits as is, 64 as a sign-extended imm32.
    uint64_t imm(int bits);
    /// A shift/rotate count worth testing (the raw count byte: masking is part of the test).
    unsigned count();
    /// Random initial register / memory content with a bias towards edge values.
    uint64_t interesting_value();

    /// Emits one instruction through `emit(cg)`, first making the flags it reads defined.
    template <class F>
    void insn(std::string_view origin, FlagEffect effect, F&& emit) {
        ensure_flags(effect.reads);
        const size_t start = cg.getSize();
        emit(cg);
        finish_insn(origin, effect, start);
    }
    /// Makes `flags` defined by emitting a flag-setting instruction when some are not.
    void ensure_flags(uint32_t flags);
    bool flags_defined(uint32_t flags) const { return m_flags.can_read(flags); }

    bool writable(int gpr) const { return gpr != 4 /*rsp*/ && gpr != m_case.base_reg; }
    int base_reg() const { return m_case.base_reg; }
    /// Bytes pushed so far relative to the initial RSP; templates keep it within the stack.
    int stack_depth = 0;
    static constexpr int kStackLimit = static_cast<int>(kStackSize / 2) - 64;
    bool can_push(int bytes) const { return stack_depth + bytes <= kStackLimit; }
    bool can_pop(int bytes) const { return stack_depth - bytes >= -kStackLimit; }

    /// If the instruction emitted at `start` has a RIP-relative operand, sets its displacement so
    /// that it addresses `target` and returns true. insn() calls it while a target is set.
    bool patch_rip_target(size_t start, uint64_t target);
    /// Starts a new template: forgets the RIP-relative target of the previous one.
    void begin_template(std::string_view name) {
        current_template = name;
        m_rip_target = 0;
    }

    std::string_view current_template;
    uint32_t defined_flags() const { return m_flags.defined(); }

private:
    void finish_insn(std::string_view origin, FlagEffect effect, size_t start);

    Case& m_case;
    FlagTracker m_flags;
    uint64_t m_rip_target = 0;   ///< pending RIP-relative target, 0 if none
};

}  // namespace popek::difftest
