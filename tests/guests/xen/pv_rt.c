/* pv_rt.c - output, checks, the libc subset and the guest's start and end (see pv_rt.h). */
#include "pv_rt.h"

#include "pv_evtchn.h"
#include "pv_hypercall.h"

#define COM1 0x3f8
#define DEBUG_EXIT 0xf4

static int g_failures;

void pv_putc(char c) { pv_outb(COM1, (uint8_t)c); }

void pv_puts(const char* s) {
    while (*s) pv_putc(*s++);
}

static void pad(int n, char c) {
    while (n-- > 0) pv_putc(c);
}

static void put_field(const char* s, int width, bool left, char fill) {
    int len = (int)strlen(s);
    if (!left) pad(width - len, fill);
    pv_puts(s);
    if (left) pad(width - len, ' ');
}

static char* to_hex(uint64_t v, char* end) {
    *--end = 0;
    do {
        *--end = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    return end;
}

void pv_printf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[24];
    for (const char* p = fmt; *p; ++p) {
        if (*p != '%') {
            pv_putc(*p);
            continue;
        }
        ++p;
        bool left = false;
        char fill = ' ';
        if (*p == '-') left = true, ++p;
        if (*p == '0') fill = '0', ++p;
        int width = 0;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        int longs = 0;
        while (*p == 'l') ++longs, ++p;
        switch (*p) {
        case 's': put_field(va_arg(ap, const char*), width, left, ' '); break;
        case 'c': pv_putc((char)va_arg(ap, int)); break;
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            char* s = pv_utoa(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, buf + 1);
            if (v < 0) *--s = '-';
            put_field(s, width, left, fill);
            break;
        }
        case 'u': put_field(pv_utoa(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), buf), width, left, fill); break;
        case 'x': put_field(to_hex(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), buf + sizeof buf), width, left, fill); break;
        case 'p':
            pv_puts("0x");
            pv_puts(to_hex((uint64_t)(uintptr_t)va_arg(ap, void*), buf + sizeof buf));
            break;
        case '%': pv_putc('%'); break;
        default: pv_putc('?'); break;
        }
        if (!*p) break;
    }
    va_end(ap);
}

bool pv_check(const char* name, int64_t got, int64_t want) {
    bool ok = got == want;
    pv_printf("%-32s got=%ld want=%ld %s\n", name, got, want, ok ? "PASS" : "FAIL");
    if (!ok) ++g_failures;
    return ok;
}

bool pv_check_true(const char* name, bool ok) {
    pv_printf("%-32s %s\n", name, ok ? "PASS" : "FAIL");
    if (!ok) ++g_failures;
    return ok;
}

int pv_failures(void) { return g_failures; }

_Noreturn void pv_halt_forever(void) {
    for (;;) __asm__ volatile("cli; hlt");
}

_Noreturn void pv_shutdown(unsigned reason) {
    sched_shutdown_t s = {.reason = reason};
    long r = HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
    pv_printf("pv: SCHEDOP_shutdown(%u) returned %ld\n", reason, r);
    pv_halt_forever();
}

_Noreturn void pv_finish(void) {
    pv_printf("failures: %d\n", g_failures);
    pv_shutdown(g_failures == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}

/* Called by pv_start.S on vCPU 0. */
void pv_entry(void) {
    if (!pv_hypercall_init()) {
        /* Not on Xen (or popek without --xen): say so and leave through isa-debug-exit. */
        pv_outb(DEBUG_EXIT, 0x7f);
        pv_halt_forever();
    }
    if (pv_map_shared_info() != 0) {
        pv_puts("pv: cannot place shared_info\n");
        pv_shutdown(SHUTDOWN_crash);
    }
    pv_main();
    pv_finish();
}

/* ---- libc subset */
void* memset(void* d, int c, size_t n) {
    unsigned char* p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}

void* memcpy(void* d, const void* s, size_t n) {
    unsigned char* dp = d;
    const unsigned char* sp = s;
    while (n--) *dp++ = *sp++;
    return d;
}

void* memmove(void* d, const void* s, size_t n) {
    unsigned char* dp = d;
    const unsigned char* sp = s;
    if (dp < sp) return memcpy(d, s, n);
    while (n--) dp[n] = sp[n];
    return d;
}

int memcmp(const void* a, const void* b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; --n, ++x, ++y)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char* a, const char* b, size_t n) {
    for (; n; --n, ++a, ++b) {
        if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
        if (!*a) return 0;
    }
    return 0;
}

char* pv_strcpy(char* d, const char* s, size_t cap) {
    size_t i = 0;
    for (; cap && i + 1 < cap && s[i]; ++i) d[i] = s[i];
    if (cap) d[i] = 0;
    return d;
}

char* pv_utoa(uint64_t v, char* buf) {
    char* end = buf + 20;
    *end = 0;
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

bool pv_atou(const char* s, uint64_t* out) {
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}
