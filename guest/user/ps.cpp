/// ps: the process table.
#include "rt/ulib.h"

using namespace pos;

int main(int, char**) {
    PosProcInfo list[32];
    long n = sys::ps(list, 32);
    if (n < 0) {
        print("ps: %s\n", error_string(n));
        return 1;
    }
    static const char* const states[] = {"run", "sleep", "zombie"};
    print("  PID  PPID USER     STATE  CPU NAME\n");
    for (long i = 0; i < n; ++i)
        print("%5d %5d %-8s %-6s %3d %s\n", list[i].pid, list[i].parent, list[i].user,
              list[i].state < 3 ? states[list[i].state] : "?", list[i].cpu, list[i].name);
    return 0;
}
