#pragma once
/// RFLAGS bookkeeping for the generator: which status flags each instruction reads, writes with a
/// defined value, or leaves undefined (Intel SDM Vol. 2, "Flags Affected" of each instruction;
/// Vol. 1 3.4.3 for the bit positions). Only flags defined after the whole sequence are compared.
#include <cstdint>

namespace popek::difftest {

inline constexpr uint32_t kCF = 1u << 0, kPF = 1u << 2, kAF = 1u << 4, kZF = 1u << 6, kSF = 1u << 7,
                          kDF = 1u << 10, kOF = 1u << 11;
/// The six arithmetic status flags.
inline constexpr uint32_t kStatusFlags = kCF | kPF | kAF | kZF | kSF | kOF;
/// RFLAGS bit 1 is always 1; IF is kept set on both sides (see docs/difftest.md).
inline constexpr uint64_t kFixedFlags = 0x202;

/// What one instruction does to the status flags. Flags in neither `writes` nor `undefined` are
/// left unchanged.
struct FlagEffect {
    uint32_t reads = 0;      ///< flags the result depends on (must be defined before)
    uint32_t writes = 0;     ///< flags set to a defined value
    uint32_t undefined = 0;  ///< flags whose value is architecturally undefined afterwards

    static constexpr FlagEffect none() { return {}; }
    /// ADD, SUB, CMP, NEG, XADD, CMPXCHG: all six defined.
    static constexpr FlagEffect arith() { return {0, kStatusFlags, 0}; }
    /// AND, OR, XOR, TEST: OF=CF=0, SF ZF PF defined, AF undefined.
    static constexpr FlagEffect logic() { return {0, kStatusFlags & ~kAF, kAF}; }
    /// ADC, SBB: like arith, but the result depends on CF.
    static constexpr FlagEffect arith_with_carry() { return {kCF, kStatusFlags, 0}; }
    /// INC, DEC: CF unchanged.
    static constexpr FlagEffect inc_dec() { return {0, kStatusFlags & ~kCF, 0}; }
    /// MUL, IMUL: CF OF defined, SF ZF AF PF undefined.
    static constexpr FlagEffect multiply() { return {0, kCF | kOF, kSF | kZF | kAF | kPF}; }
    /// DIV, IDIV: all six undefined.
    static constexpr FlagEffect divide() { return {0, 0, kStatusFlags}; }
    /// BT, BTS, BTR, BTC: CF defined, ZF unchanged, the rest undefined.
    static constexpr FlagEffect bit_test() { return {0, kCF, kOF | kSF | kAF | kPF}; }
    /// BSF, BSR: ZF defined, the rest undefined.
    static constexpr FlagEffect bit_scan() { return {0, kZF, kStatusFlags & ~kZF}; }
};

enum class ShiftOp { Rol, Ror, Rcl, Rcr, Shl, Shr, Sar };

/// Flags of a shift or rotate by `count` (the raw count byte) on a `bits`-wide operand:
/// SDM Vol. 2B "RCL/RCR/ROL/ROR" and "SAL/SAR/SHL/SHR".
FlagEffect shift_effect(ShiftOp op, int bits, unsigned count);
/// Flags of SHLD/SHRD by `count` on a `bits`-wide operand (SDM Vol. 2B "SHLD", "SHRD").
/// Counts above the operand size (16-bit forms) have an undefined result; the generator avoids them.
FlagEffect double_shift_effect(int bits, unsigned count);
/// The count after the architectural mask (5 bits, 6 for 64-bit operands).
unsigned masked_count(int bits, unsigned count);

/// Flags read by condition code `cc` (0..15, the low nibble of Jcc/SETcc/CMOVcc; SDM Vol. 1 B.1).
uint32_t condition_reads(int cc);

/// Tracks which status flags hold a defined value as instructions are appended.
class FlagTracker {
public:
    explicit FlagTracker(uint32_t defined = kStatusFlags) : m_defined(defined) {}
    uint32_t defined() const { return m_defined; }
    bool can_read(uint32_t flags) const { return (flags & ~m_defined) == 0; }
    void apply(const FlagEffect& e) { m_defined = (m_defined | e.writes) & ~e.undefined; }

private:
    uint32_t m_defined;
};

}  // namespace popek::difftest
