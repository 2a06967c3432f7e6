/* xen_timer.c - time and blocking (vcpu.h, sched.h): VIRQ_TIMER bound to vCPU 0, a singleshot
 * timer 50 ms ahead, SCHEDOP_block until it fires (its port pending, the upcall flag set, at least
 * 50 ms later), set_timer_op the same way, a timer in the past with VCPU_SSHOTTMR_future (-ETIME),
 * a stopped timer that never fires, and SCHEDOP_poll with a timeout. */
#include "pv_evtchn.h"
#include "pv_hypercall.h"

#define MS 1000000ull

/* What an upcall handler does first: the flag down, the selector taken (xen.h vcpu_info). */
static void clear_upcall(void) {
    __atomic_store_n(&pv_vcpu0()->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
    __atomic_exchange_n(&pv_vcpu0()->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
}

/* SCHEDOP_block until the upcall flag is set; returns the time since t0. */
static uint64_t block_until_event(uint64_t t0) {
    for (int i = 0; i < 100 && !pv_vcpu0()->evtchn_upcall_pending; ++i) HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    return pv_now_ns() - t0;
}

void pv_main(void) {
    evtchn_port_t timer = 0;
    pv_check("bind_virq.timer", pv_evtchn_bind_virq(VIRQ_TIMER, 0, &timer), 0);
    pv_check("bind_virq.again", pv_evtchn_bind_virq(VIRQ_TIMER, 0, &(evtchn_port_t){0}), -EEXIST);
    uint64_t t0 = pv_now_ns();
    pv_check_true("clock.advances", pv_now_ns() >= t0);

    clear_upcall();
    uint64_t start = pv_now_ns();
    vcpu_set_singleshot_timer_t sst = {.timeout_abs_ns = start + 50 * MS, .flags = VCPU_SSHOTTMR_future};
    pv_check("singleshot", HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst), 0);
    uint64_t waited = block_until_event(start);
    pv_check("singleshot.fired", pv_evtchn_test_and_clear(timer), 1);
    pv_check_true("singleshot.not-early", pv_now_ns() >= sst.timeout_abs_ns);
    pv_printf("timer: singleshot 50 ms, woke after %lu us\n", waited / 1000);
    pv_check_true("singleshot.blocked-long-enough", waited >= 50 * MS);

    clear_upcall();
    start = pv_now_ns();
    pv_check("set_timer_op", HYPERVISOR_set_timer_op(start + 20 * MS), 0);
    waited = block_until_event(start);
    pv_check("set_timer_op.fired", pv_evtchn_test_and_clear(timer), 1);
    pv_printf("timer: set_timer_op 20 ms, woke after %lu us\n", waited / 1000);

    sst.timeout_abs_ns = 1; /* long past */
    pv_check("singleshot.past-future-flag", HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst), -ETIME);
    pv_check("singleshot.other-vcpu", HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 1, &sst), -ENOENT);

    /* A stopped timer does not fire: poll on its port with a 150 ms timeout. */
    sst.timeout_abs_ns = pv_now_ns() + 30 * MS;
    sst.flags = 0;
    pv_check("singleshot.rearm", HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst), 0);
    pv_check("singleshot.stop", HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL), 0);
    uint64_t deadline = pv_now_ns() + 150 * MS;
    sched_poll_t poll = {.nr_ports = 1, .timeout = deadline};
    set_xen_guest_handle(poll.ports, &timer);
    pv_check("poll.timeout", HYPERVISOR_sched_op(SCHEDOP_poll, &poll), 0);
    pv_check("stopped.not-fired", pv_evtchn_is_pending(timer), 0);
    pv_check_true("poll.waited-for-timeout", pv_now_ns() >= deadline);
    pv_check("vcpu.is_up", HYPERVISOR_vcpu_op(VCPUOP_is_up, 0, NULL), 1);
    pv_check("yield", HYPERVISOR_sched_op(SCHEDOP_yield, NULL), 0);
    pv_check("sched_op.unknown", HYPERVISOR_sched_op(99, NULL), -ENOSYS);
}
