/// bench [N]: times N getpid system calls and N/10 spawn+wait round trips of /bin/echo by the
/// kernel's clock (10 ms ticks), and prints microseconds per operation.
#include "rt/ulib.h"

using namespace pos;

namespace {

long parse(const char* s, long fallback) {
    long v = 0;
    for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (*s - '0');
    return v > 0 ? v : fallback;
}

void report(const char* what, long count, long ms) {
    long us_per = count > 0 ? ms * 1000 / count : 0;
    print("bench: %s: %ld in %ld ms = %ld us each\n", what, count, ms, us_per);
}

}  // namespace

int main(int argc, char** argv) {
    long n = argc > 1 ? parse(argv[1], 2000) : 2000;
    long start = sys::uptime_ms();
    for (long i = 0; i < n; ++i) sys::getpid();
    report("syscall", n, sys::uptime_ms() - start);

    long spawns = n / 10 > 0 ? n / 10 : 1;
    const char* args[] = {"echo", "-"};
    start = sys::uptime_ms();
    for (long i = 0; i < spawns; ++i) {
        long pid = sys::spawn("/bin/echo", args, 1);
        int status = 0;
        if (pid < 0 || sys::wait(static_cast<int>(pid), &status) < 0) {
            print("bench: spawn failed: %s\n", error_string(pid));
            return 1;
        }
    }
    report("spawn+wait", spawns, sys::uptime_ms() - start);
    return 0;
}
