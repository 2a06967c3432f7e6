#pragma once
/// x87 FPU state helpers shared by x87_*.cpp and fxsave.cpp.
///
/// The engine keeps the x87 registers in Cpu::fpu exactly as FXSAVE lays them out (SDM Vol. 1
/// 10.5.1 table 10-2): FCW, FSW (TOP in bits 11-13), the abridged tag byte (bit p = physical
/// register p in use), and ST(0)..ST(7) in stack order, 80-bit values in the low 10 bytes of each
/// 16-byte slot. The legacy FSAVE image (SDM Vol. 1 8.1.10, figures 8-9/8-10: full 2-bit tags)
/// is converted from/to that form when needed.
#include <cstdint>
#include <cstring>

#include "emu/interp/families.h"

namespace popek::emu::x87 {

// FSW bits (SDM Vol. 1 8.1.3).
inline constexpr uint16_t kFswIe = 1, kFswExceptions = 0x3f, kFswSf = 1u << 6, kFswEs = 1u << 7,
                          kFswC0 = 1u << 8, kFswC1 = 1u << 9, kFswC2 = 1u << 10, kFswC3 = 1u << 14,
                          kFswB = 1u << 15;
inline constexpr uint16_t kFcwInit = 0x37f;

/// 108-byte FSAVE image in the 32-bit protected-mode format (SDM Vol. 1 figure 8-9).
struct FsaveImage {
    uint8_t b[108];
};
inline constexpr unsigned kEnv32Size = 28, kEnv16Size = 14;

inline unsigned top(const FxsaveArea& f) { return (f.fsw >> 11) & 7; }

/// Tag of an 80-bit value (SDM Vol. 1 8.1.7): 0 valid, 1 zero, 2 special.
inline unsigned classify(const uint8_t* v) {
    uint64_t mant;
    uint16_t se;
    std::memcpy(&mant, v, 8);
    std::memcpy(&se, v + 8, 2);
    const unsigned exp = se & 0x7fff;
    if (exp == 0) return mant == 0 ? 1 : 2;
    if (exp == 0x7fff || !(mant >> 63)) return 2;
    return 0;
}

/// Full tag word from the abridged tag byte and the register contents.
inline uint16_t full_tag_word(const FxsaveArea& f) {
    uint16_t tw = 0;
    const unsigned t = top(f);
    for (unsigned p = 0; p < 8; ++p) {
        const unsigned tag = (f.ftw >> p) & 1 ? classify(f.st[(p - t) & 7]) : 3;
        tw = static_cast<uint16_t>(tw | (tag << (2 * p)));
    }
    return tw;
}

inline uint8_t abridged_tag(uint16_t full) {
    uint8_t a = 0;
    for (unsigned p = 0; p < 8; ++p)
        if (((full >> (2 * p)) & 3) != 3) a = static_cast<uint8_t>(a | (1u << p));
    return a;
}

inline void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint16_t get16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

/// FSW.ES (and B, which mirrors it) after loading a status/control word: set when a flagged
/// exception is unmasked (SDM Vol. 1 8.1.3.1), as FXRSTOR/FRSTOR/FLDENV do on hardware.
inline void update_pending(FxsaveArea& f) {
    const bool pending = f.fsw & ~f.fcw & kFswExceptions;
    f.fsw = static_cast<uint16_t>((f.fsw & ~(kFswEs | kFswB)) | (pending ? kFswEs | kFswB : 0));
}

/// Writes the FPU environment (14 bytes for a 16-bit operand size, else 28), protected-mode
/// layout (SDM Vol. 1 figures 8-9, 8-10). FCS/FDS are stored as 0 (CPUID.7:EBX[13]).
inline void store_env(const FxsaveArea& f, uint8_t* out, bool env16) {
    if (env16) {
        std::memset(out, 0, kEnv16Size);
        put16(out + 0, f.fcw);
        put16(out + 2, f.fsw);
        put16(out + 4, full_tag_word(f));
        put16(out + 6, static_cast<uint16_t>(f.fip));
        put16(out + 10, static_cast<uint16_t>(f.fdp));
        return;
    }
    std::memset(out, 0, kEnv32Size);
    put32(out + 0, 0xffff0000u | f.fcw);   // reserved upper halves read as 1s on hardware
    put32(out + 4, 0xffff0000u | f.fsw);
    put32(out + 8, 0xffff0000u | full_tag_word(f));
    put32(out + 12, static_cast<uint32_t>(f.fip));
    put32(out + 16, static_cast<uint32_t>((f.fop & 0x7ffu) << 16));
    put32(out + 20, static_cast<uint32_t>(f.fdp));
}

/// Loads the environment; the tag word decides which registers are empty.
inline void load_env(FxsaveArea& f, const uint8_t* in, bool env16) {
    if (env16) {
        f.fcw = get16(in + 0);
        f.fsw = get16(in + 2);
        f.ftw = abridged_tag(get16(in + 4));
        f.fip = get16(in + 6);
        f.fdp = get16(in + 10);
        f.fop = 0;
        return;
    }
    f.fcw = get16(in + 0);
    f.fsw = get16(in + 4);
    f.ftw = abridged_tag(get16(in + 8));
    f.fip = get32(in + 12);
    f.fop = static_cast<uint16_t>((get32(in + 16) >> 16) & 0x7ff);
    f.fdp = get32(in + 20);
}

inline void to_fsave(const FxsaveArea& f, FsaveImage& img) {
    store_env(f, img.b, false);
    for (unsigned k = 0; k < 8; ++k) std::memcpy(img.b + kEnv32Size + 10 * k, f.st[k], 10);
}

inline void from_fsave(FxsaveArea& f, const FsaveImage& img) {
    load_env(f, img.b, false);
    for (unsigned k = 0; k < 8; ++k) {
        std::memcpy(f.st[k], img.b + kEnv32Size + 10 * k, 10);
        std::memset(f.st[k] + 10, 0, 6);
    }
}

/// Sets FSW (and so TOP) keeping the physical registers: Cpu::fpu.st is in stack order, so a TOP
/// change outside an instruction that reloads the registers (FNINIT, FLDENV) rotates it.
inline void set_fsw_keep_registers(FxsaveArea& f, uint16_t fsw) {
    const unsigned t0 = top(f), t1 = (fsw >> 11) & 7;
    if (t0 != t1) {
        uint8_t st[8][16];
        std::memcpy(st, f.st, sizeof(st));
        for (unsigned k = 0; k < 8; ++k) std::memcpy(f.st[k], st[(k + t1 - t0) & 7], 16);
    }
    f.fsw = fsw;
}

/// FNINIT state (SDM Vol. 1 8.1.10 table 8-?): registers keep their contents but are all empty.
inline void init(FxsaveArea& f) {
    f.fcw = kFcwInit;
    set_fsw_keep_registers(f, 0);
    f.ftw = 0;
    f.fop = 0;
    f.fip = 0;
    f.fdp = 0;
}

/// #NM when CR0.EM or CR0.TS (SDM Vol. 3A 2.5, table 2-2); waiting instructions raise #MF for
/// a pending unmasked exception (FSW.ES) first. Without CR0.NE the SDM's external FERR#
/// signalling is not modelled: #MF is raised then too.
inline void check(Cpu& c, bool waiting) {
    if (c.cr0 & (hv::kCr0Em | hv::kCr0Ts)) c.raise(kNm);
    if (waiting && (c.fpu.fsw & kFswEs)) c.raise(kMf);
}

}  // namespace popek::emu::x87
