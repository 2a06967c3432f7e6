/// mem: the kernel's free memory and its CPUs (sysinfo), e.g. to see that spawn/exit churn gives
/// every frame back.
#include "rt/ulib.h"

using namespace pos;

int main(int, char**) {
    PosSysInfo info;
    long r = sys::sysinfo(&info);
    if (r < 0) {
        print("mem: %s\n", error_string(r));
        return 1;
    }
    print("mem: %lu frames free of %lu (%lu KiB free), cpus %u, %lu wake-up IPIs\n", info.free_frames,
          info.total_frames, info.free_frames * 4, info.cpus, info.kicks);
    return 0;
}
