/// What Debian's libsodium.a (built for glibc) needs from a C library, for popek-os programs
/// (docs/guest-os.md "libsodium"). Single-threaded processes, no mmap, no files: the calls that
/// only sodium_malloc and the default /dev/urandom source use fail cleanly.
#include <stddef.h>
#include <stdint.h>

#include "rt/sys.h"
#include "rt/ulib.h"
#include "sodium_shim/shim.h"

namespace {

// malloc: a bump arena; free does nothing (the programs are short-lived).
alignas(16) unsigned char g_arena[256 * 1024];
size_t g_arena_used = 0;
int g_errno = 0;

void fill_random(void* buf, size_t len) {
    auto* p = static_cast<unsigned char*>(buf);
    while (len > 0) {
        size_t n = len < 4096 ? len : 4096;
        if (long r = pos::sys::getrandom(p, n); r != static_cast<long>(n)) {   // no entropy: stop
            pos::print("sodium: no random source: %s\n", pos::error_string(r < 0 ? r : -POS_EIO));
            pos_exit(127);
        }
        p += n;
        len -= n;
    }
}

uint32_t random_u32() {
    uint32_t v;
    fill_random(&v, sizeof v);
    return v;
}

/// randombytes_implementation (libsodium randombytes.h), fed by the getrandom system call.
struct RandomImplementation {
    const char* (*implementation_name)();
    uint32_t (*random)();
    void (*stir)();
    uint32_t (*uniform)(uint32_t upper_bound);
    void (*buf)(void* buf, size_t size);
    int (*close)();
};
const RandomImplementation g_random = {
    [] { return "popek-os getrandom"; }, random_u32, [] {}, nullptr, fill_random, [] { return 0; }};

}  // namespace

extern "C" {
int randombytes_set_implementation(const void* impl);
int sodium_init();

void* malloc(size_t n) {
    n = (n + 15) & ~size_t{15};
    if (n > sizeof g_arena - g_arena_used) return nullptr;
    void* p = g_arena + g_arena_used;
    g_arena_used += n;
    return p;
}
void free(void*) {}
int* __errno_location() { return &g_errno; }
void abort() { pos_exit(134); }
int raise(int) { pos_exit(134); }
void __assert_fail(const char*, const char*, unsigned, const char*) { pos_exit(134); }
void __stack_chk_fail() { pos_exit(134); }
/// sodium_memzero's explicit_bzero: several per AEAD call (keys, Poly1305 state), so 8 bytes a
/// store; the empty asm that takes `p` and clobbers memory keeps the compiler from dropping them.
void* __explicit_bzero_chk(void* p, size_t n, size_t) {
    auto* b = static_cast<unsigned char*>(p);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint64_t zero = 0;
        __builtin_memcpy(b + i, &zero, 8);
        asm volatile("" : : "r"(b + i) : "memory");   // also keeps GCC from turning the loop into memset
    }
    for (; i < n; ++i) b[i] = 0;
    asm volatile("" : : "r"(p) : "memory");
    return p;
}
long sysconf(int) { return 4096; }
int pthread_mutex_lock(void*) { return 0; }
int pthread_mutex_unlock(void*) { return 0; }
void* mmap(void*, size_t, int, int, int, long) { return reinterpret_cast<void*>(-1); }
#define POS_FAILING_CALL(name) \
    int name() {               \
        g_errno = 38;          \
        return -1;             \
    }
POS_FAILING_CALL(munmap)
POS_FAILING_CALL(mprotect)
POS_FAILING_CALL(madvise)
POS_FAILING_CALL(mlock)
POS_FAILING_CALL(munlock)
POS_FAILING_CALL(open)
POS_FAILING_CALL(read)
POS_FAILING_CALL(close)
POS_FAILING_CALL(fcntl)
POS_FAILING_CALL(fstat)
POS_FAILING_CALL(poll)
POS_FAILING_CALL(getrandom)
}

int pos_sodium_init() {
    randombytes_set_implementation(&g_random);
    return sodium_init();
}
