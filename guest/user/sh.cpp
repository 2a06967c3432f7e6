/// popek-os shell: prompt "$ ", runs /bin/<command> with its arguments and waits for it.
/// Built-in: exit [STATUS].
#include "rt/ulib.h"

using namespace pos;

namespace {

int split(char* line, const char** argv, int max) {
    int argc = 0;
    char* p = line;
    while (*p != 0) {
        while (*p == ' ' || *p == '\t' || *p == '\n') *p++ = 0;
        if (*p == 0) break;
        if (argc == max) return -1;
        argv[argc++] = p;
        while (*p != 0 && *p != ' ' && *p != '\t' && *p != '\n') ++p;
    }
    return argc;
}

int parse_int(const char* s) {
    int v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}

void run(const char** argv, int argc) {
    char path[POS_PATH_MAX];
    if (argv[0][0] == '/') copy_string(path, sizeof path, argv[0]);
    else format(path, sizeof path, "/bin/%s", argv[0]);
    long pid = sys::spawn(path, argv, argc);
    if (pid < 0) {
        print("sh: %s: %s\n", argv[0], error_string(pid));
        return;
    }
    int status = 0;
    long r = sys::wait(static_cast<int>(pid), &status);
    if (r < 0) print("sh: wait: %s\n", error_string(r));
    else if (status != 0) print("sh: %s: exit status %d\n", argv[0], status);
}

}  // namespace

int main(int, char**) {
    char line[256];
    const char* argv[POS_ARG_MAX];
    for (;;) {
        write_str("$ ");
        long n = sys::read(0, line, sizeof line - 1);
        if (n <= 0) continue;
        line[n] = 0;
        int argc = split(line, argv, POS_ARG_MAX);
        if (argc < 0) {
            print("sh: too many arguments\n");
            continue;
        }
        if (argc == 0) continue;
        if (strcmp(argv[0], "exit") == 0) return argc > 1 ? parse_int(argv[1]) : 0;
        run(argv, argc);
    }
}
