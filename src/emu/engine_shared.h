#pragma once
/// VM-wide state of the own engine shared by all vCPUs: guest RAM, the self-modifying-code map
/// (which guest-physical pages hold decoded code, and a write generation per page), the interrupt
/// platform and the guest clock. Owned by the interp Vm; every emu::Cpu holds a reference.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "emu/alarm_clock.h"
#include "emu/debug_hook.h"
#include "emu/irqchip/cpu_interrupts.h"
#include "emu/irqchip/guest_clock.h"
#include "emu/translation_log.h"
#include "memory/guest_memory.h"

namespace popek::emu {

class PerfMap;
class Cpu;
class InterruptPlatform;
class CpuHooks;

/// Tracks guest-physical pages that hold decoded code. A write to such a page (by any vCPU)
/// bumps the page's generation, which invalidates every decoded block of that page.
class CodePageMap {
public:
    explicit CodePageMap(const memory::GuestMemory& mem);

    /// Generation counter of the page holding `gpa`, nullptr if `gpa` is not RAM.
    std::atomic<uint32_t>* generation(uint64_t gpa);
    bool is_code(uint64_t gpa) const;
    /// Marks the page as holding code. Returns true if it was not marked before (then every
    /// vCPU must drop its fast write mappings of the page: see code_epoch()).
    bool mark_code(uint64_t gpa);
    /// A write hit a code page: invalidates its decoded blocks and unmarks it.
    void invalidate(uint64_t gpa);
    /// Bumped whenever a page becomes code; vCPUs compare it to flush their write TLBs.
    uint64_t code_epoch() const { return m_epoch.load(std::memory_order_acquire); }

private:
    struct Range {
        uint64_t base;
        uint64_t pages;
        std::unique_ptr<std::atomic<uint8_t>[]> code;
        std::unique_ptr<std::atomic<uint32_t>[]> gen;
    };
    const Range* find(uint64_t gpa) const;
    std::unique_ptr<Range[]> m_ranges;
    size_t m_count = 0;
    std::atomic<uint64_t> m_epoch{0};
};

/// Which vCPUs are up in Xen's sense: given a state or started by SIPI, and not down after HLT with
/// IF=0. Under --xen the last vCPU to go down ends the VM (Xen's hvm_hlt / hvm_vcpu_down).
class VcpusUp {
public:
    explicit VcpusUp(int count)
        : m_count(count > 0 ? count : 0), m_up(std::make_unique<std::atomic<bool>[]>(static_cast<size_t>(m_count))) {}
    void set(int vcpu, bool up) {
        if (vcpu >= 0 && vcpu < m_count) m_up[static_cast<size_t>(vcpu)].store(up);
    }
    bool is_up(int vcpu) const { return vcpu >= 0 && vcpu < m_count && m_up[static_cast<size_t>(vcpu)].load(); }
    bool any() const {
        for (int i = 0; i < m_count; ++i)
            if (m_up[static_cast<size_t>(i)].load()) return true;
        return false;
    }

private:
    int m_count;
    std::unique_ptr<std::atomic<bool>[]> m_up;
};

struct EngineShared {
    /// With a clock of its own (tests without an interrupt platform).
    EngineShared(const memory::GuestMemory& memory, int vcpu_count, uint64_t tsc_hz)
        : mem(memory), code(memory), vcpus(vcpu_count), m_own_clock(std::make_unique<GuestClock>(tsc_hz)),
          clock(*m_own_clock) {}
    /// On the interrupt platform's clock, so RDTSC and the TSC-deadline / APIC / PIT timers agree.
    EngineShared(const memory::GuestMemory& memory, int vcpu_count, GuestClock& platform_clock)
        : mem(memory), code(memory), vcpus(vcpu_count), clock(platform_clock) {}
    const memory::GuestMemory& mem;
    CodePageMap code;
    int vcpus;
    VcpusUp vcpus_up{vcpus};

private:
    std::unique_ptr<GuestClock> m_own_clock;

public:
    /// Guest TSC (SDM Vol. 3B 18.17): ticks at tsc_hz() from a fixed origin of the host steady clock.
    GuestClock& clock;
    /// What the engine serves itself instead of exiting to the VMM, like KVM's in-kernel PIC, PIT
    /// and IOAPIC (emu/irqchip/platform.h: PIC, ELCR, PIT and port 0x61, the IOAPIC page).
    /// Owned by the interp Vm; tests may leave it null.
    InterruptPlatform* platform = nullptr;
    /// The personality's CPUID/MSR/OUT/VMCALL hooks (emu/cpu_hooks.h): the Xen layer's under
    /// --xen (hv/xen/xen_cpu_hooks.h), null for a plain PC.
    CpuHooks* hooks = nullptr;
    /// `--accel bt`: vCPUs run hot blocks as host code translated by emu/bt/ (else interpreted).
    bool translate = false;
    /// Interpreted runs of a block before it is translated (0: translate on the first run).
    uint32_t translate_after = 1;
    /// `--stats`: translated code also counts chains taken and handler exits per mnemonic.
    bool count_stats = false;
    /// `--bt-cache`: bytes of translated code per vCPU before the translator flushes.
    size_t bt_cache_bytes = size_t{128} << 20;
    /// `--accel bt`, more than one vCPU, not `--no-bt-warm`: a halted vCPU translates the blocks
    /// the others translated (emu/translation_log.h) until an event wakes it.
    bool bt_warm = false;
    TranslationLog translations;
    /// `--perf-map`: where translators name their blocks (null: nowhere).
    std::shared_ptr<PerfMap> perf_map;
    /// Bumped after every exit to the VMM and every interrupt line change: the VMM may have written
    /// guest RAM (DMA), so decoded pages are re-verified against their bytes before reuse.
    std::atomic<uint64_t> dma_epoch{0};
    /// Raises a vCPU's attention flag at its next timer deadline (emu/alarm_clock.h).
    AlarmClock alarms;
    /// `--gdb`: the host debugger (null: none) and its breakpoints (emu/debug_hook.h).
    DebugHook* debugger = nullptr;
    HostDebug host_debug;
    /// Set by the debugger to stop the world: vCPUs park in Cpu::service() (with a kick).
    std::atomic<bool> debug_pause{false};
    /// `--record` / `--replay` with more than one vCPU: the vCPUs take turns on one thread,
    /// each run() ending with hv::Yield at its next deterministic poll point (a quantum of
    /// Cpu::kDetPollInterval instructions) or when it idles (emu/determinism.h).
    bool serialized = false;
    /// Every vCPU of the VM by index (registered by the Cpu constructor), for the debugger.
    std::vector<Cpu*> cpus = std::vector<Cpu*>(static_cast<size_t>(vcpus > 0 ? vcpus : 0), nullptr);
};

}  // namespace popek::emu
