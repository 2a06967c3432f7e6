/// echo ARGS...: prints its arguments separated by spaces.
#include "rt/ulib.h"

int main(int argc, char** argv) {
    char out[512];
    size_t n = 0;
    for (int i = 1; i < argc; ++i)
        n += pos::format(out + n, sizeof out - n, i > 1 ? " %s" : "%s", argv[i]);
    pos::format(out + n, sizeof out - n, "\n");
    pos::write_str(out);
    return 0;
}
