/* shutdown.c - SCHEDOP_shutdown with the reason REASON (built as xen_shutdown_poweroff and
 * xen_shutdown_crash): popek must end the run with 0 for poweroff and non-zero for crash. */
#include "pv_hypercall.h"

void pv_main(void) {
    pv_printf("shutdown: reason %u\n", (unsigned)REASON);
    pv_shutdown(REASON);
}
