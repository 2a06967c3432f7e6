/* xen_evtchn_bench.c - event channel round trip between two vCPUs (run with --xen --cpus 2).
 *
 * vCPU 0 makes a loopback pair (EVTCHNOP_alloc_unbound + bind_interdomain to itself, event_channel.h)
 * and moves one end's notifications to vCPU 1 (EVTCHNOP_bind_vcpu). Then ROUNDS ping-pongs per
 * variant: vCPU 0 sends on `a` (its peer `b` becomes pending on vCPU 1), vCPU 1 waits for `b`,
 * clears it and sends on `b` (`a` becomes pending on vCPU 0), vCPU 0 waits likewise. Variants:
 *   poll: each side waits in SCHEDOP_poll (sched.h), as a guest that gives up its CPU would;
 *   spin: each side busy-polls the pending bit in shared_info (the 2-level ABI, xen.h).
 * Each round trip is timed on vCPU 0 with the TSC scaled by the pvclock (xen.h vcpu_time_info).
 * One parsable line per variant:
 *   evtchn-bench mode=<poll|spin> rounds=<vCPU0> ap_rounds=<vCPU1> mean_ns=.. median_ns=.. min_ns=.. max_ns=..
 * plus the usual check rows (both vCPUs completed every round trip). */
#include "pv_evtchn.h"
#include "pv_hypercall.h"

#ifndef ROUNDS
#define ROUNDS 1000
#endif
/* Longest wait for one event before the variant is abandoned (ns of Xen system time). */
#define WAIT_LIMIT_NS 5000000000ull

enum { PHASE_SETUP, PHASE_POLL, PHASE_SPIN, PHASE_DONE };

/* Shared between the vCPUs; written by vCPU 0 before it raises `phase`, read by vCPU 1 after. */
static evtchn_port_t port_a, port_b;  /* a: notifies vCPU 0; b: notifies vCPU 1 */
static int phase = PHASE_SETUP;
static int ap_rounds[PHASE_DONE];     /* replies vCPU 1 sent, per phase */
static uint64_t samples[ROUNDS];

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Xen system time in ns from the TSC and vCPU 0's vcpu_time_info (xen.h; version odd = update). */
static uint64_t clock_ns(void) {
    const volatile vcpu_time_info_t* t = &pv_vcpu0()->time;
    for (;;) {
        uint32_t v = t->version;
        __asm__ volatile("" ::: "memory");
        uint64_t delta = rdtsc() - t->tsc_timestamp;
        uint64_t sys = t->system_time;
        uint32_t mul = t->tsc_to_system_mul;
        int8_t shift = t->tsc_shift;
        __asm__ volatile("" ::: "memory");
        if ((v & 1) || v != t->version) continue;
        delta = shift < 0 ? delta >> -shift : delta << shift;
        return sys + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
    }
}

static void clear_upcall(int vcpu) {
    /* What an upcall handler does: take the flag and selector down so the next event raises them
     * (and so wakes a vCPU blocked in SCHEDOP_poll) again. */
    vcpu_info_t* vi = &pv_shared->vcpu_info[vcpu];
    __atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
}

/* Waits until `port` is pending and clears it; false after WAIT_LIMIT_NS. */
static bool wait_port(evtchn_port_t port, int vcpu, bool spin) {
    uint64_t deadline = clock_ns() + WAIT_LIMIT_NS;
    for (;;) {
        if (!spin) clear_upcall(vcpu);
        if (pv_evtchn_test_and_clear(port)) return true;
        if (clock_ns() >= deadline) return false;
        if (spin) {
            cpu_relax();
            continue;
        }
        sched_poll_t poll = {.nr_ports = 1, .timeout = deadline};
        set_xen_guest_handle(poll.ports, &port);
        (void)HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    }
}

static int load_phase(void) { return __atomic_load_n(&phase, __ATOMIC_ACQUIRE); }

void pv_ap_entry(int vcpu) {
    if (vcpu != 1) return;
    for (int p = PHASE_POLL; p < PHASE_DONE; ++p) {
        while (load_phase() < p) cpu_relax();
        for (int i = 0; i < ROUNDS; ++i) {
            if (!wait_port(port_b, 1, p == PHASE_SPIN) || pv_evtchn_send(port_b) != 0) break;
            __atomic_store_n(&ap_rounds[p], i + 1, __ATOMIC_RELEASE);
        }
    }
}

/* Shell sort (n log^2 n at most: a thousand samples sort quickly even under emulation). */
static void sort(uint64_t* v, int n) {
    for (int gap = n / 2; gap > 0; gap /= 2)
        for (int i = gap; i < n; ++i)
            for (int j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
                uint64_t t = v[j];
                v[j] = v[j - gap];
                v[j - gap] = t;
            }
}

static void run_variant(int p) {
    const bool spin = p == PHASE_SPIN;
    const char* name = spin ? "spin" : "poll";
    __atomic_store_n(&phase, p, __ATOMIC_RELEASE);
    int rounds = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        uint64_t t0 = clock_ns();
        if (pv_evtchn_send(port_a) != 0 || !wait_port(port_a, 0, spin)) break;
        samples[i] = clock_ns() - t0;
        ++rounds;
    }
    /* vCPU 1 counts its reply after sending it: give it a moment to publish the last one. */
    uint64_t deadline = clock_ns() + WAIT_LIMIT_NS;
    while (__atomic_load_n(&ap_rounds[p], __ATOMIC_ACQUIRE) < rounds && clock_ns() < deadline) cpu_relax();
    int ap = __atomic_load_n(&ap_rounds[p], __ATOMIC_ACQUIRE);
    uint64_t sum = 0;
    for (int i = 0; i < rounds; ++i) sum += samples[i];
    sort(samples, rounds);
    pv_printf("evtchn-bench mode=%s rounds=%d ap_rounds=%d mean_ns=%lu median_ns=%lu min_ns=%lu max_ns=%lu\n",
              name, rounds, ap, rounds ? sum / (uint64_t)rounds : 0, rounds ? samples[rounds / 2] : 0,
              rounds ? samples[0] : 0, rounds ? samples[rounds - 1] : 0);
    pv_check(spin ? "spin.rounds.vcpu0" : "poll.rounds.vcpu0", rounds, ROUNDS);
    pv_check(spin ? "spin.rounds.vcpu1" : "poll.rounds.vcpu1", ap, ROUNDS);
}

void pv_main(void) {
    pv_check_true("pvclock.published", pv_vcpu0()->time.tsc_to_system_mul != 0);
    pv_check("alloc_unbound", pv_evtchn_alloc_unbound(DOMID_SELF, &port_a), 0);
    pv_check("bind_interdomain", pv_evtchn_bind_interdomain(DOMID_SELF, port_a, &port_b), 0);
    evtchn_bind_vcpu_t to_ap = {.port = port_b, .vcpu = 1};
    if (!pv_check("bind_vcpu", HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &to_ap), 0)) return;
    (void)pv_evtchn_test_and_clear(port_b);  /* set pending at bind (Xen does so too) */
    clear_upcall(0);
    clear_upcall(1);
    run_variant(PHASE_POLL);
    run_variant(PHASE_SPIN);
    __atomic_store_n(&phase, PHASE_DONE, __ATOMIC_RELEASE);
}
