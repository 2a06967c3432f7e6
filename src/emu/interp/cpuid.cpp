/// CPUID as the own engine reports it (SDM Vol. 2A CPUID): exactly the features implemented.
/// Vendor "GenuineIntel" so Linux takes the TSC frequency from leaves 0x15/0x16 instead of
/// calibrating it (arch/x86/kernel/tsc.c native_calibrate_tsc() only trusts them on Intel).
#include <cpuid.h>

#include <cstring>

#include "emu/interp/families.h"
#include "emu/irqchip/local_apic.h"

namespace popek::emu {
namespace {

/// The core crystal clock of CPUID 0x15 is the local APIC timer's input (src/emu/irqchip/README.md):
/// a guest may program its LAPIC timer from it without calibrating (Linux's lapic_timer_period,
/// popek-os when its PIT calibration fails). It said 25 MHz while the timer counts at 1 GHz, so
/// such a guest's tick ran 40 times too fast.
constexpr uint32_t kCrystalHz = static_cast<uint32_t>(kApicTimerHz);

/// The host's CPUID.1:ECX (SSE3/SSSE3 instructions run on the host).
uint32_t host_simd_ecx() {
    static const uint32_t ecx = [] {
        unsigned a, b, cx, d;
        return __get_cpuid(1, &a, &b, &cx, &d) ? cx : 0u;
    }();
    return ecx;
}

void put_string(uint32_t out[4], const char* s, const int order[4]) {
    for (int k = 0; k < 4; ++k) std::memcpy(&out[order[k]], s + 4 * k, 4);
}

}  // namespace

void cpuid_leaf(Cpu& c, uint32_t leaf, uint32_t sub, uint32_t out[4]) {
    if (CpuHooks* h = c.hooks(); h && h->cpuid(c, leaf, out)) return;
    out[0] = out[1] = out[2] = out[3] = 0;   // eax ebx ecx edx
    const bool apic = c.interrupts() != nullptr;
    // CPUID.1:EDX.APIC follows IA32_APIC_BASE's global enable (SDM Vol. 3A 10.4.3).
    uint64_t apic_base = 0;
    const bool apic_on = apic && c.interrupts()->read_msr(kMsrApicBase, apic_base) && (apic_base & kApicBaseEnable);
    const uint64_t hz = c.shared().clock.tsc_hz();
    switch (leaf) {
        case 0: {
            out[0] = 0x16;
            static const int order[3] = {1, 3, 2};
            const char* v = "GenuineIntel";
            for (int k = 0; k < 3; ++k) std::memcpy(&out[order[k]], v + 4 * k, 4);
            break;
        }
        case 1:
            out[0] = 0x000306a9;   // family 6 model 0x3a stepping 9
            out[1] = (static_cast<uint32_t>(c.index()) << 24) | (static_cast<uint32_t>(c.shared().vcpus) << 16) | (8u << 8);
            // ECX: CX16(13), x2APIC(21, irqchip/local_apic_x2apic.cpp), POPCNT(23, when the host has
            // it), TSC-deadline(24), RDRAND(30, random.cpp), hypervisor(31).
            out[2] = (1u << 13) | (1u << 30) | (host_has_popcnt() ? 1u << 23 : 0) | (apic ? (1u << 21) | (1u << 24) : 0) |
                     (1u << 31);
            // ECX: SSE3(0), SSSE3(9): complete in sse_*.cpp/mmx.cpp/x87_exec.cpp (FISTTP), which run
            // them on the host, so only when the host has them. No MONITOR(3), no SSE4.x.
            out[2] |= host_simd_ecx() & ((1u << 0) | (1u << 9));
            // ECX: PCLMULQDQ(1), AES(25): sse_crypto.cpp runs them on the host, and its selectors
            // take them only when the host has them (else #UD), so the same test here.
            out[2] |= (host_has_pclmulqdq() ? 1u << 1 : 0) | (host_has_aes() ? 1u << 25 : 0);
            // EDX: FPU(0) MMX(23) FXSR(24) SSE(25) SSE2(26) (x87_*.cpp, mmx.cpp, fxsave.cpp, sse_*.cpp),
            // DE PSE TSC MSR PAE CX8 APIC SEP PGE CMOV PAT CLFSH.
            out[3] = (1u << 0) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (apic_on ? 1u << 9 : 0) |
                     (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19) | (c.shared().vcpus > 1 ? 1u << 28 : 0);
            break;
        case 7:
            // BMI1 (TZCNT); bit 13: FCS/FDS deprecated (FXSAVE/FNSTENV store them as 0).
            if (sub == 0) out[1] = (host_has_bmi1() ? (1u << 3) : 0) | (1u << 13) | (1u << 18);   // + RDSEED (random.cpp)
            // IA32_TSC_ADJUST (bit 1): with the invariant TSC it lets Linux trust the TSC without a
            // clocksource watchdog, which would compare it with jiffies and lose (ticks coalesce
            // while an interpreted guest runs long with interrupts off).
            if (sub == 0) out[1] |= 1u << 1;
            // EBX: SMAP (20: CR4.SMAP, STAC/CLAC, SDM Vol. 3A 4.6.1).
            if (sub == 0) out[1] |= 1u << 20;
            // EDX: IBRS/IBPB (26: IA32_SPEC_CTRL, IA32_PRED_CMD) and IA32_ARCH_CAPABILITIES (29),
            // which says this CPU has none of the speculative-execution flaws (control_regs.cpp).
            if (sub == 0) out[3] = (1u << 26) | (1u << 29);
            if (sub == 0) out[2] = 1u << 2;   // ECX: UMIP (system.cpp; CR4.UMIP, SDM Vol. 3A 2.5)
            // ECX: PKU (3), OSPKE (4: CR4.PKE, read live), PKS (31): protection keys for user-
            // and supervisor-mode pages (SDM Vol. 3A 4.6.2; access_rights.cpp, IA32_PKRS). PKRU
            // is not an XSAVE component here (no XSAVE).
            if (sub == 0) out[2] |= (1u << 3) | ((c.cr4 & hv::kCr4Pke) ? 1u << 4 : 0) | (1u << 31);
            break;
        case 0xb:
            // Extended topology (SDM Vol. 2A CPUID leaf 0BH): no level is described (EBX = 0, the
            // level type in ECX[15:8] is 0 "invalid"), but EDX is the x2APIC ID for any sub-leaf.
            out[2] = sub & 0xff;
            out[3] = static_cast<uint32_t>(c.index());
            break;
        case 4:
            break;
        case 0x15:
            out[0] = 1000;   // TSC = crystal * EBX / EAX, exact for any whole-MHz TSC
            out[1] = static_cast<uint32_t>(hz / (kCrystalHz / 1000));
            out[2] = kCrystalHz;
            break;
        case 0x16:
            out[0] = static_cast<uint32_t>(hz / 1'000'000);
            out[1] = out[0];
            out[2] = 100;
            break;
        case 0x40000000: {
            out[0] = 0x40000000;
            static const int order[3] = {1, 2, 3};
            const char* v = "PopekPopekPo";
            for (int k = 0; k < 3; ++k) std::memcpy(&out[order[k]], v + 4 * k, 4);
            break;
        }
        case 0x80000000: out[0] = 0x80000008; break;
        case 0x80000001:
            out[2] = 1u | (host_has_lzcnt() ? 1u << 5 : 0);   // LAHF/SAHF in 64-bit mode, LZCNT
            out[3] = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);   // SYSCALL NX 1G RDTSCP LM
            break;
        case 0x80000002: case 0x80000003: case 0x80000004: {
            static const char brand[49] = "popek interp x86-64 CPU                         ";
            static const int order[4] = {0, 1, 2, 3};
            put_string(out, brand + (leaf - 0x80000002) * 16, order);
            break;
        }
        case 0x80000007: out[3] = 1u << 8; break;   // invariant TSC
        case 0x80000008: out[0] = 0x3028; break;    // 40 physical, 48 linear address bits
        default: break;
    }
}

}  // namespace popek::emu
