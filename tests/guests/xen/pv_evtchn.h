/* pv_evtchn.h - shared_info and the 2-level event channel ABI seen from the guest (xen.h
 * shared_info / vcpu_info, event_channel.h). Events are taken by polling: the pending bitmap in
 * shared_info, waiting in SCHEDOP_poll (which returns once one of the ports is pending, masked or
 * not) or SCHEDOP_block (which returns once vcpu_info's evtchn_upcall_pending is set). */
#pragma once
#include "pv_rt.h"

extern shared_info_t* pv_shared;

/* XENMEM_add_to_physmap(XENMAPSPACE_shared_info) onto a page of the guest image. 0 or -errno. */
long pv_map_shared_info(void);
static inline vcpu_info_t* pv_vcpu0(void) { return &pv_shared->vcpu_info[0]; }

bool pv_evtchn_is_pending(evtchn_port_t port);
bool pv_evtchn_is_masked(evtchn_port_t port);
/* Atomically clears the pending bit; true if it was set. */
bool pv_evtchn_test_and_clear(evtchn_port_t port);
void pv_evtchn_mask(evtchn_port_t port);
long pv_evtchn_unmask(evtchn_port_t port);
long pv_evtchn_send(evtchn_port_t port);
long pv_evtchn_close(evtchn_port_t port);
long pv_evtchn_alloc_unbound(domid_t remote, evtchn_port_t* port);
long pv_evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port, evtchn_port_t* local);
long pv_evtchn_bind_virq(uint32_t virq, uint32_t vcpu, evtchn_port_t* port);
/* SCHEDOP_poll on one port until it is pending (or `deadline_ns`, 0 = none); then clears it.
 * Returns true if the port was pending. */
bool pv_evtchn_wait(evtchn_port_t port, uint64_t deadline_ns);
