#pragma once
/// Event channels, 2-level ABI (xen.h "Event channels", event_channel.h): shared_info placed in a
/// kernel page, each vCPU's vcpu_info registered in its per-CPU area, the upcall delivered as an
/// ordinary interrupt vector (HVM_PARAM_CALLBACK_IRQ, type "vector"), and a dispatcher that walks
/// selector -> pending & ~mask and runs the handler bound to each port.
///
/// Handlers run in interrupt context with interrupts off, on the CPU the port is bound to (its
/// notify vCPU: VIRQ_TIMER and IPI ports per CPU, every other port on vCPU 0); an upcall on one
/// CPU leaves other CPUs' ports pending for them. A port without a handler stays masked: its
/// owner polls it (wait_port), as the store client and the block front end do.
#include "pv/xen_abi.h"

namespace pos::xen::evtchn {

using Handler = void (*)(evtchn_port_t port, void* ctx);

/// Places shared_info, registers vCPU `cpu`'s vcpu_info and installs the callback vector.
bool init(int cpu, const char** reason);
/// Binds VIRQ `virq` on vCPU `cpu`; the port or a negative errno.
long bind_virq(uint32_t virq, uint32_t cpu);
/// EVTCHNOP_bind_ipi: a port that, when notified from any vCPU, raises an event on vCPU `cpu`.
long bind_ipi(uint32_t cpu);
/// A fresh port a back end in domain `remote` may bind to; the port or a negative errno.
long alloc_unbound(domid_t remote);
long close(evtchn_port_t port);
/// EVTCHNOP_send.
void notify(evtchn_port_t port);
/// Runs `handler(port, ctx)` from the upcall of CPU `cpu` (the vCPU the port notifies) whenever
/// `port` fires, and unmasks it.
bool set_handler(evtchn_port_t port, Handler handler, void* ctx, int cpu = 0);
void mask(evtchn_port_t port);
void unmask(evtchn_port_t port);
/// Clears the pending bit; true if it was set.
bool test_and_clear(evtchn_port_t port);
/// Waits for a masked port with SCHEDOP_poll until it is pending (then clears it) or Xen system
/// time passes `deadline_ns` (0: no deadline). Usable with interrupts off.
bool wait_port(evtchn_port_t port, uint64_t deadline_ns);

/// Runs the upcall handler now (interrupts off): catches events whose vector arrived before the
/// local APIC was enabled.
void dispatch_pending();

/// The vcpu_info of vCPU `cpu` (xen.h struct vcpu_info), for the clock.
vcpu_info_t* vcpu_info(int cpu);
/// Upcalls handled and events dispatched so far (for the boot log and tests).
uint64_t upcalls();

}  // namespace pos::xen::evtchn
