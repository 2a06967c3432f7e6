/// ls [PREFIX]: lists the files of the boot image (size, x for programs, path).
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    PosDirEntry e;
    for (long i = 0; sys::listdir(i, &e) == 1; ++i) {
        if (argc > 1 && !starts_with(e.name, argv[1])) continue;
        print("%8lu %c %s\n", e.size, e.executable ? 'x' : '-', e.name);
    }
    return 0;
}
