/// put FILE WORDS...: writes the words (separated by spaces, ending in a newline) at the start of
/// FILE, e.g. the block device /dev/xvda. Needs an `allow USER write FILE` rule.
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    if (argc < 2) {
        print("usage: put FILE WORDS...\n");
        return 2;
    }
    long fd = sys::open(argv[1], POS_O_WRITE);
    if (fd < 0) {
        print("put: %s: %s\n", argv[1], error_string(fd));
        return 1;
    }
    char line[512];
    size_t n = 0;
    for (int i = 2; i < argc; ++i) {
        size_t len = strlen(argv[i]);
        if (n + len + 2 > sizeof line) break;
        if (i > 2) line[n++] = ' ';
        memcpy(line + n, argv[i], len);
        n += len;
    }
    line[n++] = '\n';
    long w = sys::write(static_cast<int>(fd), line, n);
    sys::close(static_cast<int>(fd));
    if (w < 0) {
        print("put: %s: %s\n", argv[1], error_string(w));
        return 1;
    }
    print("put: %ld bytes\n", w);
    return 0;
}
