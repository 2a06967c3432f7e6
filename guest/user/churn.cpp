/// churn N: N short-lived children, four alive at a time, each exiting at once with the CPU it
/// ran on as its status; reports how many came back, with which status, and the CPUs seen. With
/// `mem` before and after it shows that spawn/exit gives every frame back (docs/guest-os.md "SMP").
#include "rt/ulib.h"

using namespace pos;

namespace {

constexpr int kParallel = 4;
constexpr int kCpuStatusBase = 10;   // child status = 10 + its CPU: 0 would hide a child that never ran

long parse(const char* s) {
    long v = 0;
    for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (*s - '0');
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && argv[1][0] == '-') {   // child: report the CPU
        PosSysInfo info;
        if (sys::sysinfo(&info) != 0 || info.cpu < 0 || info.cpu >= 32) return 1;
        return kCpuStatusBase + info.cpu;
    }
    long total = argc > 1 ? parse(argv[1]) : 100;
    const char* child_argv[] = {"churn", "-"};
    long started = 0, done = 0, failed = 0;
    unsigned seen = 0;
    long live = 0;
    while (done < total) {
        while (live < kParallel && started < total) {
            long pid = sys::spawn("/bin/churn", child_argv, 2);
            if (pid < 0) {
                print("churn: spawn failed: %s\n", error_string(pid));
                return 1;
            }
            ++started;
            ++live;
        }
        int status = 0;
        long pid = sys::wait(-1, &status);
        if (pid < 0) {
            print("churn: wait failed: %s\n", error_string(pid));
            return 1;
        }
        --live;
        ++done;
        if (status >= kCpuStatusBase && status < kCpuStatusBase + 32) seen |= 1u << (status - kCpuStatusBase);
        else ++failed;
    }
    char cpus[3 * 32 + 1];
    size_t n = 0;
    for (int c = 0; c < 32; ++c)
        if ((seen & (1u << c)) != 0) n += format(cpus + n, sizeof cpus - n, n == 0 ? "%d" : ",%d", c);
    cpus[n] = 0;
    print("churn: %ld children exited, %ld failed, ran on cpus %s\n", done, failed, n > 0 ? cpus : "none");
    return failed == 0 ? 0 : 1;
}
