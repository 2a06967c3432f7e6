/* pv_console.c - see pv_console.h. */
#include "pv_console.h"

#include "pv_evtchn.h"
#include "pv_hypercall.h"

struct xencons_interface* pv_cons;
evtchn_port_t pv_cons_port;

long pv_cons_init(void) {
    uint64_t pfn = 0, port = 0;
    long r = pv_hvm_get_param(HVM_PARAM_CONSOLE_PFN, &pfn);
    if (r == 0) r = pv_hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &port);
    if (r != 0) return r;
    if (pfn == 0 || port == 0) return -ENOENT;
    pv_cons = (struct xencons_interface*)(uintptr_t)(pfn << 12);
    pv_cons_port = (evtchn_port_t)port;
    return 0;
}

long pv_cons_write(const char* s, uint32_t len) {
    uint64_t deadline = 0;
    while (len > 0) {
        XENCONS_RING_IDX cons = __atomic_load_n(&pv_cons->out_cons, __ATOMIC_ACQUIRE);
        XENCONS_RING_IDX prod = pv_cons->out_prod;
        uint32_t room = sizeof pv_cons->out - (prod - cons);
        if (room == 0) {
            if (deadline == 0) deadline = pv_now_ns() + 5000000000ull;
            if (!pv_evtchn_wait(pv_cons_port, deadline) && pv_now_ns() >= deadline) return -ETIME;
            continue;
        }
        uint32_t n = room < len ? room : len;
        for (uint32_t i = 0; i < n; ++i) pv_cons->out[MASK_XENCONS_IDX(prod + i, pv_cons->out)] = s[i];
        pv_wmb();
        __atomic_store_n(&pv_cons->out_prod, prod + n, __ATOMIC_RELEASE);
        pv_evtchn_send(pv_cons_port);
        s += n;
        len -= n;
    }
    return 0;
}

long pv_cons_read(char* out, uint32_t cap, uint64_t deadline_ns) {
    for (;;) {
        XENCONS_RING_IDX prod = __atomic_load_n(&pv_cons->in_prod, __ATOMIC_ACQUIRE);
        XENCONS_RING_IDX cons = pv_cons->in_cons;
        uint32_t avail = prod - cons;
        if (avail > sizeof pv_cons->in) return -EIO;
        if (avail > 0) {
            uint32_t n = avail < cap ? avail : cap;
            pv_rmb();
            for (uint32_t i = 0; i < n; ++i) out[i] = pv_cons->in[MASK_XENCONS_IDX(cons + i, pv_cons->in)];
            pv_mb();
            __atomic_store_n(&pv_cons->in_cons, cons + n, __ATOMIC_RELEASE);
            pv_evtchn_send(pv_cons_port);
            return n;
        }
        if (!pv_evtchn_wait(pv_cons_port, deadline_ns) && pv_now_ns() >= deadline_ns) return 0;
    }
}
