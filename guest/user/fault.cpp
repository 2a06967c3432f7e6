/// fault KIND: misbehaves on purpose so tests can check that the kernel kills only this process.
///   pf: read an unmapped address    kpf: write into the kernel half    gp: privileged instruction
///   ud: undefined opcode             de: divide by zero                 sys: bad system call pointers
///   files: bad open flags and writes to descriptors not open for writing
///   net: netd's calls from an ordinary program (refused: -EPERM, logged); bad net_open arguments
///   stack: use 48 KiB of stack (fine)   overflow: use 128 KiB of stack (past the 64 KiB stack)
#include "rt/ulib.h"

using namespace pos;

namespace {

/// Uses `kib` KiB of stack: one 1 KiB frame per level, still live after the recursive call (so
/// the compiler cannot turn it into a loop). Returns `kib`.
__attribute__((noinline)) long use_stack(int kib) {
    volatile char area[1024];
    area[0] = 1;
    area[1023] = 0;
    long below = kib > 1 ? use_stack(kib - 1) : 0;
    return below + area[0] + area[1023];
}

}  // namespace

int main(int argc, char** argv) {
    const char* kind = argc > 1 ? argv[1] : "pf";
    print("fault: %s\n", kind);
    // Addresses go through a volatile so the compiler cannot see (and reject) the bad access.
    volatile uintptr_t unmapped = 0x10, kernel = 0xffffffff80100000;
    if (strcmp(kind, "pf") == 0) return *reinterpret_cast<volatile int*>(unmapped);
    if (strcmp(kind, "kpf") == 0) *reinterpret_cast<volatile int*>(kernel) = 1;
    if (strcmp(kind, "gp") == 0) asm volatile("cli");
    if (strcmp(kind, "ud") == 0) asm volatile("ud2");
    if (strcmp(kind, "de") == 0) {
        volatile int zero = 0, one = 1;   // 1/x alone compiles to a compare, not a division
        return one / zero;
    }
    if (strcmp(kind, "stack") == 0 || strcmp(kind, "overflow") == 0) {
        int kib = kind[0] == 's' ? 48 : 128;
        print("stack: %d KiB, sum %ld\n", kib, use_stack(kib));
        return 0;
    }
    if (strcmp(kind, "sys") == 0) {
        // The kernel must refuse each of these with an error, not crash.
        long a = sys::write(1, reinterpret_cast<const void*>(0xffffffff80100000), 16);
        long b = sys::read(0, reinterpret_cast<void*>(0x1000), 16);
        long c = sys::open(reinterpret_cast<const char*>(0x7fffffff0000));
        long d = sys::call(999);
        long e = sys::spawn("/bin/echo", reinterpret_cast<const char* const*>(0x20), 1);
        print("sys: write=%ld read=%ld open=%ld nosys=%ld spawn=%ld\n", a, b, c, d, e);
        return 0;
    }
    if (strcmp(kind, "files") == 0) {
        long a = sys::open("/etc/motd", 0x80);   // unknown flag
        long fd = sys::open("/etc/motd");
        long b = sys::write(static_cast<int>(fd), "x", 1);   // open for reading only
        long c = sys::write(77, "x", 1);                     // no such descriptor
        sys::close(static_cast<int>(fd));
        char byte = 0;
        long d = sys::read(static_cast<int>(fd), &byte, 1);   // closed
        print("files: badflags=%ld readonly-fd=%ld badfd=%ld closed=%ld\n", a, b, c, d);
        return 0;
    }
    if (strcmp(kind, "net") == 0) {
        uint8_t frame[64] = {};
        long a = sys::netd_frame_tx(frame, sizeof frame);
        long b = sys::netd_frame_rx(frame, sizeof frame, POS_NET_NONBLOCK);
        static PosNetRequest req;
        static PosNetMessage msg;
        long c = sys::netd_next_request(&req, POS_NET_NONBLOCK);
        long d = sys::netd_deliver(&msg);
        print("net: frame_tx=%ld frame_rx=%ld next_request=%ld deliver=%ld\n", a, b, c, d);
        // net_open's own checks come before the policy: bad mode, connect without a key, bad key.
        long e = sys::net_open(frame, 7);
        long f = sys::net_open(nullptr, POS_NET_CONNECT);
        long g = sys::net_open(reinterpret_cast<const uint8_t*>(0xffffffff80100000), POS_NET_CONNECT);
        print("net_open: badmode=%ld nokey=%ld kernelkey=%ld\n", e, f, g);
        return 0;
    }
    if (strcmp(kind, "netstats") == 0) {
        // net_stats: a bad flag, a kernel or unmapped buffer, and publishing (netd's alone).
        static PosNetStats st;
        long a = sys::call(POS_SYS_NET_STATS, sys::ptr(&st), 4);
        long b = sys::net_stats(reinterpret_cast<PosNetStats*>(0xffffffff80100000));
        long c = sys::net_stats(reinterpret_cast<PosNetStats*>(0x1000));
        long d = sys::net_stats_publish(&st.netd);
        long e = sys::net_stats(&st);
        print("net_stats: badflags=%ld kernelbuf=%ld unmapped=%ld publish=%ld ok=%ld\n", a, b, c, d, e);
        return 0;
    }
    print("fault: unknown kind %s\n", kind);
    return 2;
}
