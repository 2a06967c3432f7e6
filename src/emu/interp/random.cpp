/// RDRAND and RDSEED (SDM Vol. 2B "RDRAND", "RDSEED"; Vol. 1 7.3.17): a random value from the
/// host kernel's CSPRNG (getrandom(2)) into a 16/32/64-bit register, CF = 1 when a value was
/// delivered; OF SF ZF AF PF cleared. If the host cannot deliver (never expected), the
/// destination is zeroed and CF = 0 — the architectural "try again", which guests must handle.
/// CPUID.1:ECX.RDRAND[30] and CPUID.7.0:EBX.RDSEED[18] advertise them (cpuid.cpp).
#include <sys/random.h>

#include "emu/determinism.h"
#include "emu/interp/families.h"

namespace popek::emu {
namespace {

template <class T>
void rdrand(Cpu& c, const Insn& i) {
    T v{};
    // --record / --replay: the value is logged, or comes from the log (emu/determinism.h).
    const bool ok = t_determinism ? t_determinism->random(&v, sizeof v)
                                  : getrandom(&v, sizeof v, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof v);
    c.set_reg<T>(i.r0, ok ? v : T{});
    c.rflags = (c.rflags & ~kArithFlags) | (ok ? kCf : 0);
}

Handler select(const DecodeView&, Insn& i) {
    switch (i.osize) {
        case 2: return rdrand<uint16_t>;
        case 4: return rdrand<uint32_t>;
        case 8: return rdrand<uint64_t>;
        default: return nullptr;
    }
}

}  // namespace

void register_random(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_RDRAND, select);
    t.add(ZYDIS_MNEMONIC_RDSEED, select);
}

}  // namespace popek::emu
