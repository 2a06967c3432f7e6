#include "lib/random.h"

#include <stdint.h>

#include "arch/x86.h"
#include "common/string.h"

namespace pos {
namespace {

bool has_rdrand() { return (x86::cpuid(1).ecx & (1u << 30)) != 0; }
bool has_rdseed() { return x86::cpuid(0).eax >= 7 && (x86::cpuid(7).ebx & (1u << 18)) != 0; }

/// One 64-bit value; retries as the SDM recommends (7.3.17.1), then gives up.
bool next(bool seed, uint64_t& out) {
    for (int i = 0; i < 100; ++i) {
        unsigned char ok;
        if (seed) asm volatile("rdseed %0; setc %1" : "=r"(out), "=qm"(ok));
        else asm volatile("rdrand %0; setc %1" : "=r"(out), "=qm"(ok));
        if (ok != 0) return true;
        x86::pause();
    }
    return false;
}

}  // namespace

bool random_available() { return has_rdseed() || has_rdrand(); }

bool random_fill(void* buf, size_t len) {
    bool seed = has_rdseed();
    if (!seed && !has_rdrand()) return false;
    auto* out = static_cast<uint8_t*>(buf);
    while (len > 0) {
        uint64_t v;
        if (!next(seed, v) && !(seed && has_rdrand() && next(false, v))) return false;
        size_t n = len < sizeof v ? len : sizeof v;
        memcpy(out, &v, n);
        out += n;
        len -= n;
    }
    return true;
}

}  // namespace pos
