/* pv_console.h - the PV console (io/console.h, struct xencons_interface) at HVM_PARAM_CONSOLE_PFN
 * with its event channel HVM_PARAM_CONSOLE_EVTCHN: output through out[], input from in[]. */
#pragma once
#include "pv_rt.h"

#include <xen/io/console.h>

extern struct xencons_interface* pv_cons;
extern evtchn_port_t pv_cons_port;

long pv_cons_init(void);
/* Writes all of `len` bytes (waiting for room); -ETIME if popek never makes room. */
long pv_cons_write(const char* s, uint32_t len);
/* Reads what input is there, waiting until `deadline_ns` for at least one byte; returns the count. */
long pv_cons_read(char* out, uint32_t cap, uint64_t deadline_ns);
