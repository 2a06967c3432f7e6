/* durability_writer DEVICE TAG [COUNT]: the guest side of durability_kill9.sh.
 *
 * Writes record N (N = 1, 2, ...) to sector N of DEVICE: the text "REC %06d TAG END", then zeros
 * to 512 bytes. Odd records go through a buffered descriptor followed by fdatasync(2) (a FLUSH
 * after the write reaches the device); even ones through an O_DIRECT descriptor from an aligned
 * buffer (the write returns when the device completed it). Only when that returned without an
 * error does it print "GUEST-ACK N" (unbuffered, one write(2) to the console); a failure prints
 * "GUEST-NAK N <errno text>" and ends. Built static on the host by the test, run as /init's child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kSector = 512, kAlign = 4096 };

static void say(const char* text) {
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, text, len);
        if (n <= 0) return;
        text += n;
        len -= (size_t)n;
    }
}

static int fail(long n, const char* what) {
    char line[160];
    snprintf(line, sizeof line, "GUEST-NAK %ld %s: %s\n", n, what, strerror(errno));
    say(line);
    return 1;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        say("usage: durability_writer DEVICE TAG [COUNT]\n");
        return 2;
    }
    const long count = argc > 3 ? atol(argv[3]) : 100000;
    int buffered = open(argv[1], O_RDWR);
    if (buffered < 0) return fail(0, "open");
    int direct = open(argv[1], O_RDWR | O_DIRECT);
    if (direct < 0) return fail(0, "open O_DIRECT");
    char* sector = NULL;
    if (posix_memalign((void**)&sector, kAlign, kSector) != 0) return fail(0, "posix_memalign");
    say("GUEST-WRITER ready\n");
    for (long n = 1; n <= count; ++n) {
        memset(sector, 0, kSector);
        snprintf(sector, kSector, "REC %06ld %s END", n, argv[2]);
        const off_t at = (off_t)n * kSector;
        if (n % 2 == 1) {
            if (pwrite(buffered, sector, kSector, at) != kSector) return fail(n, "pwrite");
            if (fdatasync(buffered) != 0) return fail(n, "fdatasync");
        } else {
            if (pwrite(direct, sector, kSector, at) != kSector) return fail(n, "pwrite O_DIRECT");
        }
        char line[40];
        snprintf(line, sizeof line, "GUEST-ACK %ld\n", n);
        say(line);
    }
    say("GUEST-DONE\n");
    return 0;
}
