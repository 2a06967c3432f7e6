/// cat FILE...: copies files to the console. Exit status 1 if any could not be read.
#include "rt/ulib.h"

using namespace pos;

int main(int argc, char** argv) {
    int status = 0;
    for (int i = 1; i < argc; ++i) {
        long fd = sys::open(argv[i]);
        if (fd < 0) {
            print("cat: %s: %s\n", argv[i], error_string(fd));
            status = 1;
            continue;
        }
        char buf[512];
        long n;
        while ((n = sys::read(static_cast<int>(fd), buf, sizeof buf)) > 0) sys::write(1, buf, static_cast<size_t>(n));
        if (n < 0) {
            print("cat: %s: %s\n", argv[i], error_string(n));
            status = 1;
        }
        sys::close(static_cast<int>(fd));
    }
    return status;
}
