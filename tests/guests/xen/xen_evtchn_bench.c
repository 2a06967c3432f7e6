/* xen_evtchn_bench.c - event channel round trip between two vCPUs (run with --xen --cpus 2).
 *
 * vCPU 0 makes a loopback pair (EVTCHNOP_alloc_unbound + bind_interdomain to itself, event_channel.h)
 * and moves one end's notifications to vCPU 1 (EVTCHNOP_bind_vcpu). Then ROUNDS ping-pongs per
 * variant: vCPU 0 sends on `a` (its peer `b` becomes pending on vCPU 1), vCPU 1 waits for `b`,
 * clears it and sends on `b` (`a` becomes pending on vCPU 0), vCPU 0 waits likewise. Variants:
 *   poll: each side waits in SCHEDOP_poll (sched.h), as a guest that gives up its CPU would;
 *   spin: each side busy-polls the pending bit in shared_info (the 2-level ABI, xen.h).
 * Each round trip is timed on vCPU 0 with the TSC, scaled by the pvclock (xen.h vcpu_time_info) or,
 * where popek publishes none, calibrated against the runstate clock.
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

/* The TSC→ns scale: the pvclock's (xen.h vcpu_time_info) when popek publishes one, else one this
 * guest calibrates against the runstate clock (vcpu.h VCPUOP_register_runstate_memory_area, whose
 * state_entry_time is Xen system time; each call costs a hypercall, so it is not used per round). */
static uint64_t base_tsc, base_ns, ns_per_tick_q32;  /* written by vCPU 0 before PHASE_POLL */
static const char* clock_source = "pvclock";

static uint64_t runstate_ns(void) {
    static vcpu_runstate_info_t runstate;
    vcpu_register_runstate_memory_area_t area;
    area.addr.v = &runstate;
    if (HYPERVISOR_vcpu_op(VCPUOP_register_runstate_memory_area, 0, &area) != 0) return 0;
    return runstate.state_entry_time;
}

static void calibrate(void) {
    const volatile vcpu_time_info_t* t = &pv_vcpu0()->time;
    if (t->tsc_to_system_mul != 0) {
        base_tsc = t->tsc_timestamp;
        base_ns = t->system_time;
        int8_t shift = t->tsc_shift;
        /* mul * 2^shift as a 32.32 fraction of ns per tick (|shift| is small: no overflow). */
        ns_per_tick_q32 = shift < 0 ? (uint64_t)t->tsc_to_system_mul >> -shift : (uint64_t)t->tsc_to_system_mul << shift;
        return;
    }
    clock_source = "tsc-calibrated";
    uint64_t ns0 = runstate_ns(), tsc0 = rdtsc(), ns1, tsc1;
    do {
        ns1 = runstate_ns();
        tsc1 = rdtsc();
    } while (ns1 - ns0 < 20000000ull);
    base_tsc = tsc0;
    base_ns = ns0;
    ns_per_tick_q32 = tsc1 > tsc0 ? ((ns1 - ns0) << 32) / (tsc1 - tsc0) : 0;
}

/* Xen system time in ns (the clock SCHEDOP_poll's timeout is in). */
static uint64_t clock_ns(void) {
    return base_ns + (uint64_t)(((unsigned __int128)(rdtsc() - base_tsc) * ns_per_tick_q32) >> 32);
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
    calibrate();
    pv_printf("evtchn-bench clock=%s\n", clock_source);
    if (!pv_check_true("clock.scale", ns_per_tick_q32 != 0)) return;
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
