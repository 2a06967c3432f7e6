/* pv_rt.h - the freestanding runtime of popek's PV test guests (tests/guests/xen/).
 *
 * A guest is a plain ELF64 in popek's own-guest ABI (docs/guest-abi.md: 64-bit, CPL0, low 4 GiB
 * identity-mapped, no IDT) run with `popek run --xen`. pv_start.S parks every vCPU but the first and
 * calls pv_entry(), which installs the hypercall page, maps shared_info and runs the guest's
 * pv_main(); pv_finish() then reports and shuts the domain down (poweroff when every check passed,
 * crash otherwise), so popek's exit status is the verdict (0 / non-zero).
 *
 * Output goes to COM1 (the 8250 popek always provides), one check per line:
 *     <name> got=<value> want=<value> PASS|FAIL
 * Everything guest-visible comes from Xen's public headers (Xen 4.17, /usr/include/xen). */
#pragma once
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux errno values: what Xen returns (negated) and what xs_wire.h's xsd_errors names. */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EIO 5
#define EBADF 9
#define E2BIG 7
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define EMFILE 24
#define EFBIG 27
#define ENOSPC 28
#define EROFS 30
#define ENAMETOOLONG 36
#define ENOSYS 38
#define ENOTEMPTY 39
#define ELOOP 40
#define ETIME 62
#define EOPNOTSUPP 95
#define EISCONN 106

#include <xen/xen.h>
#include <xen/arch-x86/cpuid.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

#define PV_PAGE_SIZE 4096u
#define PV_PAGE_ALIGNED __attribute__((aligned(PV_PAGE_SIZE)))

/* The test body every guest defines; returns nothing, counts failures through the checks. */
void pv_main(void);

/* ---- output (COM1) */
void pv_putc(char c);
void pv_puts(const char* s);
/* printf subset: %s %c %d %u %x with l/ll, %p; width and '-' for %s/%d/%u/%x, '0' padding. */
void pv_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- checks */
/* One row "name got=.. want=.. PASS|FAIL" (signed decimal); counts a failure. Returns got == want. */
bool pv_check(const char* name, int64_t got, int64_t want);
/* A row "name PASS|FAIL" for a condition. */
bool pv_check_true(const char* name, bool ok);
int pv_failures(void);
/* Prints "failures: N" and shuts the domain down: poweroff when N == 0, crash otherwise. */
_Noreturn void pv_finish(void);
/* SCHEDOP_shutdown with `reason` (sched.h SHUTDOWN_*); halts if popek does not stop the vCPU. */
_Noreturn void pv_shutdown(unsigned reason);
_Noreturn void pv_halt_forever(void);

/* ---- the bits of libc the compiler may call */
void* memset(void* d, int c, size_t n);
void* memcpy(void* d, const void* s, size_t n);
void* memmove(void* d, const void* s, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, size_t n);
char* pv_strcpy(char* d, const char* s, size_t cap); /* always terminates; truncates */
/* Decimal text of `v` into buf (cap ≥ 21); returns buf. */
char* pv_utoa(uint64_t v, char* buf);
/* Parses a decimal number; false on anything else. */
bool pv_atou(const char* s, uint64_t* out);

/* ---- CPU */
static inline void pv_cpuid(uint32_t leaf, uint32_t* a, uint32_t* b, uint32_t* c, uint32_t* d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline void pv_wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void pv_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t pv_inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void pv_mb(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void pv_wmb(void) { __asm__ volatile("" ::: "memory"); } /* x86: stores are ordered */
static inline void pv_rmb(void) { __asm__ volatile("" ::: "memory"); } /* x86: loads are ordered */
static inline uint64_t pv_gpa(const void* p) { return (uint64_t)(uintptr_t)p; } /* identity map */
static inline uint64_t pv_pfn(const void* p) { return pv_gpa(p) >> 12; }

#define PV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
