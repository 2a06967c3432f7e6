/// systest's shared helpers (systest.h).
#include "systest/systest.h"

namespace pos::systest {

const char* g_call = "";

void show(const char* what, long value) { print("%s: %s=%ld\n", g_call, what, value); }

namespace {
const uintptr_t kKernel = 0xffffffff80100000, kUnmapped = 0x1000;
const char kReadOnly[64] = "read-only data";
}  // namespace
void* kernel_ptr() { return reinterpret_cast<void*>(kKernel); }
void* unmapped_ptr() { return reinterpret_cast<void*>(kUnmapped); }
void* read_only_ptr() { return const_cast<char*>(kReadOnly); }

char* tls_tail(size_t len) { return reinterpret_cast<char*>(POS_USER_TLS_BASE + 4096 - len); }

long child(const char* role, const char* arg) {
    const char* argv[] = {"systest", role, arg};
    return sys::spawn("/bin/systest", argv, arg != nullptr ? 3 : 2);
}

long reap(long pid) {
    int status = -999;
    long r = sys::wait(static_cast<int>(pid), &status);
    return r == pid ? status : r;
}

long to_long(const char* s) {
    long sign = *s == '-' ? -1 : 1, v = 0;
    if (*s == '-') ++s;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return sign * v;
}

long ps_state(long pid) {
    PosProcInfo list[32];
    long n = sys::ps(list, 32);
    for (long i = 0; i < n; ++i)
        if (list[i].pid == pid) return list[i].state;
    return -1;
}

long fill_fds(long& lo, long& hi) {
    lo = -1;
    for (;;) {
        long fd = sys::open("/etc/motd");
        if (fd < 0) return fd;
        if (lo < 0) lo = fd;
        hi = fd;
    }
}
void close_range(long lo, long hi) {
    for (long fd = lo; lo >= 0 && fd <= hi; ++fd) sys::close(static_cast<int>(fd));
}

}  // namespace pos::systest
