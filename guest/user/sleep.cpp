/// sleep MS: sleeps, then prints how long it slept by the kernel's clock.
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    long ms = 0;
    for (const char* s = argc > 1 ? argv[1] : "100"; *s >= '0' && *s <= '9'; ++s) ms = ms * 10 + (*s - '0');
    long start = sys::uptime_ms();
    sys::sleep_ms(ms);
    print("slept %ld ms\n", sys::uptime_ms() - start);
    return 0;
}
