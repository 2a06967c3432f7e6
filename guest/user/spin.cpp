/// spin N: N copies of a busy loop that yield nothing; each reports when done. With round-robin
/// preemption they all finish, interleaved, and the shell stays responsive. Each names the CPUs
/// it ran on (several with SMP).
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    if (argc > 2) {   // worker: spin for argv[2] milliseconds of kernel time
        long until = sys::uptime_ms();
        long ms = 0;
        for (const char* s = argv[2]; *s >= '0' && *s <= '9'; ++s) ms = ms * 10 + (*s - '0');
        until += ms;
        unsigned seen = 0;   // the CPUs this worker was found running on (sysinfo), one bit each
        while (sys::uptime_ms() < until) {
            for (int i = 0; i < 100000; ++i) asm volatile("" ::: "memory");
            PosSysInfo info;
            if (sys::sysinfo(&info) == 0 && info.cpu >= 0 && info.cpu < 32) seen |= 1u << info.cpu;
        }
        char cpus[3 * 32 + 1];
        size_t n = 0;
        for (int c = 0; c < 32; ++c)
            if ((seen & (1u << c)) != 0) n += format(cpus + n, sizeof cpus - n, n == 0 ? "%d" : ",%d", c);
        cpus[n] = 0;
        print("spin worker %s done on cpus %s\n", argv[1], n > 0 ? cpus : "?");
        return 0;
    }
    int n = argc > 1 ? argv[1][0] - '0' : 2;
    long pids[8];
    for (int i = 0; i < n && i < 8; ++i) {
        char id[4] = {static_cast<char>('0' + i), 0};
        const char* args[] = {"spin", id, "300"};
        pids[i] = sys::spawn("/bin/spin", args, 3);
    }
    for (int i = 0; i < n && i < 8; ++i) {
        int status = 0;
        if (pids[i] > 0) sys::wait(static_cast<int>(pids[i]), &status);
    }
    print("spin: all %d workers done\n", n);
    return 0;
}
