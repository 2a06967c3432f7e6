#pragma once
/// Why Vcpu::run() returned. I/O exits carry a span owned by the backend that stays valid until
/// the next run(): for reads the dispatcher fills it, and the backend completes the guest
/// instruction with it when run() is called again.
#include <cstdint>
#include <span>
#include <string>
#include <variant>

namespace popek::hv {

/// `data` holds one or more accesses of `size` bytes each (string I/O: REP INS/OUTS).
struct PioIn { uint16_t port; uint8_t size; std::span<uint8_t> data; };
struct PioOut { uint16_t port; uint8_t size; std::span<const uint8_t> data; };
struct MmioRead { uint64_t gpa; std::span<uint8_t> data; };
struct MmioWrite { uint64_t gpa; std::span<const uint8_t> data; };
/// A paravirtual call (Xen x86-64 ABI: rax = nr, rdi rsi rdx r10 r8). The handler writes `result`,
/// which the backend places in the guest's rax on the next run(). `compat`: the caller was not in
/// 64-bit mode (Xen's 32-bit ABI: ebx ecx edx esi edi, 32-bit result, the compat structure layouts).
struct Hypercall {
    uint64_t nr;
    uint64_t args[5];
    uint64_t* result;
    bool compat = false;
};
/// HLT with interrupts disabled and nothing that can wake the vCPU, or a wait the backend
/// cannot do itself.
struct Halt {};
/// Triple fault, reset request from the CPU, the VM was told to stop (request_stop()), or (Xen
/// personality) every vCPU went down with HLT at IF=0, which ends a Xen domain.
struct Shutdown { enum Reason { TripleFault, Stopped, AllVcpusDown } reason; };
/// The guest did something the backend could not handle; the VM stops with this reason.
struct InternalError { std::string reason; };
/// The own engine under `--record` / `--replay` with more than one vCPU (emu/determinism.h): all
/// vCPUs run on one thread, each for a fixed quantum of instructions in turn; this vCPU's turn
/// has ended. `idle`: it is halted (or waits for a SIPI) and its next timer is due at `deadline`
/// (virtual ns, UINT64_MAX: none). Nothing for the VMM to dispatch: it runs the next vCPU.
struct Yield {
    bool idle = false;
    uint64_t deadline = UINT64_MAX;
};

using VcpuExit = std::variant<PioIn, PioOut, MmioRead, MmioWrite, Hypercall, Halt, Shutdown, InternalError, Yield>;

}  // namespace popek::hv
