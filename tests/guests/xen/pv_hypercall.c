/* pv_hypercall.c - hypercall page installation and the HVM parameter / time helpers. */
#include "pv_hypercall.h"

uint8_t pv_hypercall_page[PV_PAGE_SIZE] PV_PAGE_ALIGNED;

bool pv_hypercall_init(void) {
    uint32_t a, b, c, d;
    /* Xen may sit at 0x40000000 or, behind a Viridian interface, at 0x40000100 (arch-x86/cpuid.h). */
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        pv_cpuid(base, &a, &b, &c, &d);
        if (b == XEN_CPUID_SIGNATURE_EBX && c == XEN_CPUID_SIGNATURE_ECX && d == XEN_CPUID_SIGNATURE_EDX &&
            a >= base + 2) {
            pv_cpuid(base + 2, &a, &b, &c, &d);
            if (a < 1) break; /* no hypercall pages */
            pv_wrmsr(b, pv_gpa(pv_hypercall_page));
            return true;
        }
    }
    pv_cpuid(0x40000000, &a, &b, &c, &d);
    char sig[13];
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    for (int i = 0; i < 12; ++i)
        if (sig[i] < 0x20 || sig[i] > 0x7e) sig[i] = '.';
    sig[12] = 0;
    pv_printf("pv: no Xen signature (cpuid 0x40000000: '%s')\n", sig);
    return false;
}

long pv_hvm_get_param(uint32_t index, uint64_t* value) {
    xen_hvm_param_t p = {.domid = DOMID_SELF, .index = index};
    long r = HYPERVISOR_hvm_op(HVMOP_get_param, &p);
    if (r == 0) *value = p.value;
    return r;
}

long pv_hvm_set_param(uint32_t index, uint64_t value) {
    xen_hvm_param_t p = {.domid = DOMID_SELF, .index = index, .value = value};
    return HYPERVISOR_hvm_op(HVMOP_set_param, &p);
}

uint64_t pv_now_ns(void) {
    static vcpu_runstate_info_t runstate;
    vcpu_register_runstate_memory_area_t area;
    area.addr.v = &runstate;
    if (HYPERVISOR_vcpu_op(VCPUOP_register_runstate_memory_area, 0, &area) != 0) return 0;
    return runstate.state_entry_time;
}
