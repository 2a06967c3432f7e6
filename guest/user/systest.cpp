/// systest CALL: exercises one system call (docs/guest-os.md "System calls"), its results and its
/// error cases, and prints one `CALL: case=result` line per case for
/// tests/backend/guest_os_syscall_test.cpp to compare exactly. Results are the raw return values
/// (negative POS_E* on error). `systest child-*` are the children the process calls start.
#include "systest/systest.h"

using namespace pos;
using namespace pos::systest;

namespace {

struct Test {
    const char* name;
    void (*run)();
};
const Test kTests[] = {
    {"write", test_write},     {"read", test_read},     {"open", test_open},       {"close", test_close},
    {"spawn", test_spawn},     {"wait", test_wait},     {"exit", test_exit},       {"whoami", test_whoami},
    {"ps", test_ps},           {"yield", test_yield},   {"sleep", test_sleep},     {"listdir", test_listdir},
    {"getpid", test_getpid},   {"uptime", test_uptime}, {"getrandom", test_getrandom},
    {"net_open", test_net_open}, {"seek", test_seek}, {"nosys", test_nosys},
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print("usage: systest CALL\n");
        return 2;
    }
    if (starts_with(argv[1], "child-")) return run_child(argv[1], argc > 2 ? argv[2] : "0", argc, argv);
    for (const Test& t : kTests) {
        if (strcmp(t.name, argv[1]) != 0) continue;
        g_call = t.name;
        t.run();
        return 0;
    }
    print("systest: unknown call %s\n", argv[1]);
    return 2;
}
