#pragma once
/// Application processors: found in the MADT, started with INIT-SIPI-SIPI through the local APIC
/// (SDM Vol. 3A 8.4.4.1) on a real-mode trampoline, each then given its GDT/TSS/IDT, per-CPU
/// `Cpu`, SYSCALL MSRs, local APIC, tick and idle thread before it joins the scheduler
/// (docs/guest-os.md "SMP").
#include <stdint.h>

namespace pos::smp {

struct Hooks {
    /// Gets CPU `cpu` ready to be kicked (an event-channel IPI port under Xen); run on that CPU,
    /// for the boot CPU before the first AP starts.
    bool (*prepare_kick)(int cpu, const char** reason);
    /// The platform's per-CPU part on an AP (its tick, under Xen its vcpu_info), run on the AP.
    bool (*setup_cpu)(int cpu, const char** reason);
};

/// Starts every enabled CPU the MADT at `rsdp` lists besides this one, one at a time, and logs
/// one line per CPU ("popek-os: cpu 1 up", or why not). Needs the boot CPU's tick running (the
/// waits count ticks). `smp.silent=ID` on the command line sends nothing to the CPU with APIC ID
/// `ID`, as if it did not answer (tests the timeout path). Returns the number of CPUs running.
int start_secondary_cpus(uint64_t rsdp, const char* cmdline, const Hooks& hooks);

}  // namespace pos::smp
