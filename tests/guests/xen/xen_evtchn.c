/* xen_evtchn.c - event channel ping-pong on a loopback channel (event_channel.h, 2-level ABI in
 * shared_info): alloc_unbound for ourselves, bind_interdomain to it, send and see the other end
 * pending (with the vcpu_info selector and upcall flag), masking and re-delivery on unmask, an IPI
 * channel, N round trips through SCHEDOP_poll, close, and the errors for ports that are not there. */
#include "pv_evtchn.h"
#include "pv_hypercall.h"

#define ROUNDS 200

static void clear_upcall(void) {
    __atomic_store_n(&pv_vcpu0()->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pv_vcpu0()->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
}

static long status_of(evtchn_port_t port, evtchn_status_t* st) {
    st->dom = DOMID_SELF;
    st->port = port;
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, st);
}

void pv_main(void) {
    evtchn_port_t a = 0, b = 0;
    pv_check("alloc_unbound", pv_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    pv_check_true("alloc_unbound.port-nonzero", a != 0);
    evtchn_status_t st;
    pv_check("status.unbound", status_of(a, &st), 0);
    pv_check("status.unbound.kind", st.status, EVTCHNSTAT_unbound);
    pv_check("bind_interdomain", pv_evtchn_bind_interdomain(DOMID_SELF, a, &b), 0);
    pv_check_true("bind_interdomain.new-port", b != 0 && b != a);
    pv_check("status.interdomain", status_of(a, &st), 0);
    pv_check("status.interdomain.kind", st.status, EVTCHNSTAT_interdomain);
    pv_check("status.interdomain.peer", st.u.interdomain.port, b);
    /* Xen sets the new local port pending at bind (notifications sent to the unbound port
     * may have been lost). */
    pv_check("bind.local-pending", pv_evtchn_test_and_clear(b), 1);

    /* b -> a: a pending, its word in the selector, the upcall flag up. */
    clear_upcall();
    pv_check("send.b", pv_evtchn_send(b), 0);
    pv_check("a.pending", pv_evtchn_is_pending(a), 1);
    pv_check("b.not-pending", pv_evtchn_is_pending(b), 0);
    pv_check("upcall_pending", pv_vcpu0()->evtchn_upcall_pending, 1);
    pv_check("pending_sel.bit", (pv_vcpu0()->evtchn_pending_sel >> (a / 64)) & 1, 1);
    pv_check("a.test_and_clear", pv_evtchn_test_and_clear(a), 1);
    pv_check("a.cleared", pv_evtchn_is_pending(a), 0);

    /* Masked: pending but no upcall; unmask delivers it. */
    clear_upcall();
    pv_evtchn_mask(a);
    pv_check("masked.send", pv_evtchn_send(b), 0);
    pv_check("masked.pending", pv_evtchn_is_pending(a), 1);
    pv_check("masked.no-upcall", pv_vcpu0()->evtchn_upcall_pending, 0);
    pv_check("unmask", pv_evtchn_unmask(a), 0);
    pv_check("unmask.mask-clear", pv_evtchn_is_masked(a), 0);
    pv_check("unmask.redelivers", pv_vcpu0()->evtchn_upcall_pending, 1);
    pv_evtchn_test_and_clear(a);
    clear_upcall();

    /* IPI to ourselves. */
    evtchn_bind_ipi_t ipi = {.vcpu = 0};
    pv_check("bind_ipi", HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &ipi), 0);
    pv_check("ipi.send", pv_evtchn_send(ipi.port), 0);
    pv_check("ipi.pending", pv_evtchn_wait(ipi.port, pv_now_ns() + 2000000000ull), 1);
    pv_check("ipi.close", pv_evtchn_close(ipi.port), 0);

    /* Ping-pong: each side waits in SCHEDOP_poll for its port, then answers. */
    uint64_t t0 = pv_now_ns();
    int rounds = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        if (pv_evtchn_send(a) != 0 || !pv_evtchn_wait(b, 0)) break;
        if (pv_evtchn_send(b) != 0 || !pv_evtchn_wait(a, 0)) break;
        ++rounds;
    }
    uint64_t t1 = pv_now_ns();
    pv_check("ping-pong.rounds", rounds, ROUNDS);
    pv_printf("ping-pong: %d round trips in %lu us (%lu ns each)\n", rounds, (t1 - t0) / 1000,
              rounds ? (t1 - t0) / (uint64_t)rounds : 0);

    /* Close one end: the peer goes back to unbound; sends on it are dropped (Xen), not errors. */
    pv_check("close.a", pv_evtchn_close(a), 0);
    pv_check("status.closed", status_of(a, &st), 0);
    pv_check("status.closed.kind", st.status, EVTCHNSTAT_closed);
    pv_check("status.peer-unbound", status_of(b, &st) == 0 ? (int64_t)st.status : -1, EVTCHNSTAT_unbound);
    pv_check("send.unbound-dropped", pv_evtchn_send(b), 0);
    pv_check("send.closed", pv_evtchn_send(a), -EINVAL);
    pv_check("close.b", pv_evtchn_close(b), 0);

    /* Ports that are not there. */
    pv_check("send.out-of-range", pv_evtchn_send(100000), -EINVAL);
    pv_check("unmask.out-of-range", pv_evtchn_unmask(100000), -EINVAL);
    pv_check("close.port0", pv_evtchn_close(0), -EINVAL);
    evtchn_bind_virq_t bad = {.virq = 1000, .vcpu = 0};
    pv_check("bind_virq.bad-virq", HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &bad), -EINVAL);
    evtchn_port_t p;
    pv_check("bind_virq.bad-vcpu", pv_evtchn_bind_virq(VIRQ_TIMER, 77, &p), -ENOENT);
    pv_check("alloc_unbound.other-domain", pv_evtchn_alloc_unbound(42, &p), -ESRCH);
    pv_check("op.unknown", HYPERVISOR_event_channel_op(999, &st), -ENOSYS);
}
