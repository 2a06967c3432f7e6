/* pv_evtchn.c - see pv_evtchn.h. */
#include "pv_evtchn.h"

#include "pv_hypercall.h"

static uint8_t shared_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;
shared_info_t* pv_shared = (shared_info_t*)shared_page;

#define WORD_BITS (sizeof(xen_ulong_t) * 8)

long pv_map_shared_info(void) {
    xen_add_to_physmap_t x = {.domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
                              .gpfn = pv_pfn(shared_page)};
    return HYPERVISOR_memory_op(XENMEM_add_to_physmap, &x);
}

static bool test_bit(const xen_ulong_t* words, evtchn_port_t port) {
    return (__atomic_load_n(&words[port / WORD_BITS], __ATOMIC_ACQUIRE) >> (port % WORD_BITS)) & 1;
}

bool pv_evtchn_is_pending(evtchn_port_t port) { return test_bit(pv_shared->evtchn_pending, port); }
bool pv_evtchn_is_masked(evtchn_port_t port) { return test_bit(pv_shared->evtchn_mask, port); }

bool pv_evtchn_test_and_clear(evtchn_port_t port) {
    xen_ulong_t bit = (xen_ulong_t)1 << (port % WORD_BITS);
    return __atomic_fetch_and(&pv_shared->evtchn_pending[port / WORD_BITS], ~bit, __ATOMIC_SEQ_CST) & bit;
}

void pv_evtchn_mask(evtchn_port_t port) {
    __atomic_fetch_or(&pv_shared->evtchn_mask[port / WORD_BITS], (xen_ulong_t)1 << (port % WORD_BITS),
                      __ATOMIC_SEQ_CST);
}

long pv_evtchn_unmask(evtchn_port_t port) {
    evtchn_unmask_t op = {.port = port};
    return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

long pv_evtchn_send(evtchn_port_t port) {
    evtchn_send_t op = {.port = port};
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

long pv_evtchn_close(evtchn_port_t port) {
    evtchn_close_t op = {.port = port};
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
}

long pv_evtchn_alloc_unbound(domid_t remote, evtchn_port_t* port) {
    evtchn_alloc_unbound_t op = {.dom = DOMID_SELF, .remote_dom = remote};
    long r = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    if (r == 0) *port = op.port;
    return r;
}

long pv_evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port, evtchn_port_t* local) {
    evtchn_bind_interdomain_t op = {.remote_dom = remote, .remote_port = remote_port};
    long r = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    if (r == 0) *local = op.local_port;
    return r;
}

long pv_evtchn_bind_virq(uint32_t virq, uint32_t vcpu, evtchn_port_t* port) {
    evtchn_bind_virq_t op = {.virq = virq, .vcpu = vcpu};
    long r = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);
    if (r == 0) *port = op.port;
    return r;
}

bool pv_evtchn_wait(evtchn_port_t port, uint64_t deadline_ns) {
    for (;;) {
        if (pv_evtchn_test_and_clear(port)) return true;
        sched_poll_t poll = {.nr_ports = 1, .timeout = deadline_ns};
        set_xen_guest_handle(poll.ports, &port);
        long r = HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
        if (r != 0) return pv_evtchn_test_and_clear(port);
        if (deadline_ns != 0 && !pv_evtchn_is_pending(port) && pv_now_ns() >= deadline_ns) return false;
    }
}
