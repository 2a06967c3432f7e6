#pragma once
/// The seam between popek and its CPU engines: kvm (trap-and-emulate), interp and bt (own engine).
/// Devices, loaders and tests only use these interfaces, so they work with every engine.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hv/cpu_state.h"
#include "hv/msi.h"
#include "hv/vcpu_exit.h"
#include "hv/vcpu_stats.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::emu { struct EngineShared; class Determinism; }

namespace popek::hv {

enum class Accel { Kvm, Interp, Bt };
std::string_view accel_name(Accel a);
Result<Accel> parse_accel(std::string_view s);

class Vcpu {
public:
    virtual ~Vcpu() = default;
    virtual int index() const = 0;
    /// Runs the guest until it needs the VMM. Must be called from the vCPU's own thread.
    virtual Result<VcpuExit> run() = 0;
    virtual Result<CpuState> get_state() = 0;
    /// Sets the registers and makes the vCPU runnable now. A vCPU whose state was never set
    /// (an AP of a guest booted the PC way) waits for INIT/SIPI from its local APIC instead.
    virtual Result<void> set_state(const CpuState& state) = 0;
    /// Xen's VCPUOP_up: a vCPU still waiting to be started (an AP before INIT/SIPI) begins at
    /// `state`, keeping its own local APIC (apic_base, CR8); one running already ignores it.
    /// Callable from any thread (the caller is another vCPU's hypercall).
    virtual Result<void> start_from(const CpuState& state) {
        (void)state;
        return fail("this engine cannot start a vCPU from another thread");
    }
    /// Makes a running or future run() return Shutdown{Stopped} soon. Callable from any thread.
    virtual void request_stop() = 0;
    virtual VcpuStats stats() const { return {}; }
    /// Engine-specific lines for `--stats` (the block translator's counters), or empty.
    virtual std::string engine_report() const { return {}; }
    /// The translator's code-cache figures (bt), read while the vCPU may run: a figure may lag.
    virtual CodeCacheStats code_cache_stats() const { return {}; }
    /// Translates a guest-virtual address through the vCPU's current paging mode (for hypercall
    /// arguments, which PVH guests pass as virtual addresses). Call from the vCPU's own thread
    /// while it is stopped in an exit.
    virtual Result<uint64_t> translate_gva(uint64_t gva) {
        (void)gva;
        return fail("this engine cannot translate guest-virtual addresses");
    }
    /// The VMM handled the exit run() returned last without writing guest RAM (only register-only
    /// devices took part: bus::Device::writes_guest_ram). An engine that re-verifies its decoded
    /// code after every exit (a VMM write may have been DMA over code) may skip that once.
    virtual void exit_wrote_no_ram() {}
};

/// The guest TSC as a paravirtual clock (Xen's vcpu_time_info) needs it: its rate, and its
/// reading at host steady-clock time `host_ns` (std::chrono::steady_clock, ns since its epoch).
struct TscSample {
    uint64_t tsc_hz = 0;
    uint64_t tsc = 0;
    uint64_t host_ns = 0;
};

class Vm {
public:
    virtual ~Vm() = default;
    /// Makes guest RAM visible to the guest. Called once before vCPUs are created.
    virtual Result<void> set_memory(const memory::GuestMemory& mem) = 0;
    virtual Result<std::unique_ptr<Vcpu>> create_vcpu(int index) = 0;
    /// Drives interrupt line `gsi` of the VM's interrupt controllers (IOAPIC pin / PIC line).
    /// Callable from any thread.
    virtual Result<void> set_irq_line(uint32_t gsi, bool level) = 0;
    /// set_irq_line() for a device that never writes guest RAM (a UART, the keyboard controller):
    /// an engine need not treat the interrupt as the end of a DMA. Callable from any thread.
    virtual Result<void> set_irq_line_no_dma(uint32_t gsi, bool level) { return set_irq_line(gsi, level); }
    /// A device wrote guest RAM [gpa, gpa+len) (DMA), right after the write: an engine that caches
    /// decoded code drops what it decoded there. Callable from any thread.
    virtual void device_wrote_ram(uint64_t gpa, uint64_t len) {
        (void)gpa;
        (void)len;
    }
    /// Delivers `vector` to vCPU `vcpu`'s local APIC as a fixed, edge-triggered interrupt (what an
    /// MSI does). Used for the Xen event-channel upcall (HVM callback vector). Callable from any thread.
    virtual Result<void> inject_vector(int vcpu, uint8_t vector) {
        (void)vcpu;
        (void)vector;
        return fail("this engine cannot inject interrupt vectors");
    }
    /// A PCI function's MSI (PCI Local Bus 3.0 §6.8), through the interrupt remapper when one is
    /// installed; `requester` is the function's bus/device/function number (hv/msi.h). `remap`
    /// false: a remapping unit's own event (VT-d fault and invalidation events), never remapped.
    /// Callable from any thread.
    virtual Result<void> signal_msi(uint32_t requester, const MsiMessage& msi, bool remap = true) {
        (void)requester;
        (void)msi;
        (void)remap;
        return fail("this engine cannot deliver MSIs from devices");
    }
    /// Puts `remapper` between the VM's interrupt sources (I/O APIC, device MSIs) and its local
    /// APICs; the VM keeps it alive as long as it lives. Called once, before vCPUs run.
    virtual Result<void> set_interrupt_remapper(std::shared_ptr<InterruptRemapper> remapper) {
        (void)remapper;
        return fail("this engine cannot remap interrupts");
    }
    /// The guest TSC now, shared by all vCPUs; nullopt when the engine cannot tell (KVM today).
    virtual std::optional<TscSample> sample_tsc() const { return std::nullopt; }
    /// The own engine's VM-wide state (interp, bt), for the gdb stub (src/gdb/); null on KVM.
    virtual emu::EngineShared* own_engine() { return nullptr; }
    /// Stops every vCPU at an instruction boundary until resume() (PATCH /vm, docs/api.md); the
    /// own engine also stops the guest's clock. Called from a VMM thread, never a vCPU's.
    virtual Result<void> pause() { return fail("pausing is not supported by this engine"); }
    virtual Result<void> resume() { return fail("pausing is not supported by this engine"); }
};

struct VmConfig {
    int vcpus = 1;
    bool xen = false;   ///< Xen personality (CPUID leaves, hypercall page)
    bool stats = false; ///< `--stats`: engines may count more (the block translator's counters)
    bool perf_map = false; ///< `--perf-map`: the block translator writes /tmp/perf-PID.map
    uint32_t bt_cache_mib = 128; ///< `--bt-cache`: the block translator's code buffer per vCPU
    bool viridian = false; ///< with `xen`: the Hyper-V interface too (hv/xen/viridian.h); own engine only
    /// `--record` / `--replay` (emu/determinism.h): the own engine's clock runs on retired
    /// instructions instead of the host's. Not owned; null: a normal run.
    emu::Determinism* determinism = nullptr;
    /// Not `--no-bt-warm`: with the block translator and more than one vCPU, a halted vCPU
    /// translates the blocks the others translated (emu/translation_log.h).
    bool bt_warm = true;
};

class Hypervisor {
public:
    virtual ~Hypervisor() = default;
    virtual Accel accel() const = 0;
    virtual Result<std::unique_ptr<Vm>> create_vm(const VmConfig& config) = 0;
    /// Largest vCPU count this engine supports.
    virtual int max_vcpus() const = 0;
};

/// Opens the engine, or explains why it cannot be used on this host.
Result<std::unique_ptr<Hypervisor>> open_hypervisor(Accel accel);

}  // namespace popek::hv
