/// systest: the file and data calls (write, read, open, close, listdir, getrandom, net_open).
#include "systest/systest.h"

namespace pos::systest {

void test_write() {
    const char line[] = "write: hello console\n";
    show("stdout", sys::write(1, line, sizeof line - 1));
    const char err[] = "write: to stderr\n";
    show("stderr", sys::write(2, err, sizeof err - 1));
    show("empty", sys::write(1, line, 0));
    show("kernel-buf", sys::write(1, kernel_ptr(), 16));
    show("unmapped-buf", sys::write(1, unmapped_ptr(), 16));
    show("straddling-buf", sys::write(1, tls_tail(8), 16));
    show("huge-len", sys::write(1, line, size_t{1} << 40));
    show("stdin", sys::write(0, line, 4));
    show("unopened", sys::write(9, line, 4));
    show("negative-fd", sys::write(-1, line, 4));
    show("out-of-range-fd", sys::write(1000, line, 4));
    long fd = sys::open("/etc/motd");
    show("read-only-fd", sys::write(static_cast<int>(fd), line, 4));
    sys::close(static_cast<int>(fd));
    show("closed-fd", sys::write(static_cast<int>(fd), line, 4));
    fd = sys::open("/home/alice/notes.txt", POS_O_WRITE);   // allowed, but a packed (read-only) file
    show("packed-file", sys::write(static_cast<int>(fd), line, 4));
    sys::close(static_cast<int>(fd));
}

void test_read() {
    long fd = sys::open("/etc/motd");
    char buf[65];
    long n = sys::read(static_cast<int>(fd), buf, 8);
    buf[n > 0 ? n : 0] = 0;
    print("read: first=%ld [%s]\n", n, buf);
    long total = n > 0 ? n : 0;
    while ((n = sys::read(static_cast<int>(fd), buf, 64)) > 0) total += n;
    show("total", total);
    show("at-end", sys::read(static_cast<int>(fd), buf, 64));
    show("zero-len", sys::read(static_cast<int>(fd), buf, 0));
    show("kernel-buf", sys::read(static_cast<int>(fd), kernel_ptr(), 16));
    show("read-only-buf", sys::read(static_cast<int>(fd), read_only_ptr(), 16));
    show("straddling-buf", sys::read(static_cast<int>(fd), tls_tail(8), 16));
    sys::close(static_cast<int>(fd));
    show("closed", sys::read(static_cast<int>(fd), buf, 8));
    show("unopened", sys::read(9, buf, 8));
    show("stdout", sys::read(1, buf, 8));
    show("negative-fd", sys::read(-1, buf, 8));
    show("console-zero-len", sys::read(0, buf, 0));
    show("console-bad-buf", sys::read(0, kernel_ptr(), 8));
    // The console: one line per read, split when the buffer is smaller than the line.
    print("read: type a line\n");
    n = sys::read(0, buf, 4);
    buf[n > 0 ? n : 0] = 0;
    print("read: console=%ld [%s]\n", n, buf);
    n = sys::read(0, buf, 64);
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = '|';   // the line's end, made visible
    buf[n > 0 ? n : 0] = 0;
    print("read: console-rest=%ld [%s]\n", n, buf);
}

void test_open() {
    long fd = sys::open("/etc/motd");
    char buf[17] = {};
    long n = sys::read(static_cast<int>(fd), buf, 16);
    print("open: motd=%ld read=%ld [%s]\n", fd, n, buf);
    sys::close(static_cast<int>(fd));
    show("missing", sys::open("/home/alice/missing.txt"));
    show("denied", sys::open("/etc/secret"));
    show("denied-missing", sys::open("/etc/nothing"));
    show("write-denied", sys::open("/etc/motd", POS_O_WRITE));
    show("bad-flags", sys::open("/etc/motd", 2));
    show("not-canonical", sys::open("/home/alice/../alice/notes.txt"));
    show("relative", sys::open("etc/motd"));
    show("empty", sys::open(""));
    char path[POS_PATH_MAX + 1];
    memcpy(path, "/home/alice/", 12);
    memset(path + 12, 'a', POS_PATH_MAX - 12);
    path[POS_PATH_MAX - 1] = 0;   // 127 characters: the longest path
    show("longest", sys::open(path));
    path[POS_PATH_MAX - 1] = 'a';
    path[POS_PATH_MAX] = 0;       // 128
    show("too-long", sys::open(path));
    show("kernel-ptr", sys::open(static_cast<const char*>(kernel_ptr())));
    show("null", sys::open(nullptr));
    char* tail = tls_tail(9);
    memcpy(tail, "/etc/motd", 9);   // no NUL before the unmapped page
    show("unterminated", sys::open(tail));
    long lo = -1, hi = -1;
    long full = fill_fds(lo, hi);
    print("open: fds=%ld..%ld then=%ld\n", lo, hi, full);
    sys::close(5);
    show("reuses", sys::open("/etc/motd"));
    close_range(lo, hi);
}

void test_close() {
    long a = sys::open("/etc/motd"), b = sys::open("/home/alice/notes.txt");
    print("close: opened=%ld,%ld\n", a, b);
    show("first", sys::close(static_cast<int>(a)));
    show("again", sys::close(static_cast<int>(a)));
    char c = 0;
    show("read-closed", sys::read(static_cast<int>(a), &c, 1));
    show("read-other", sys::read(static_cast<int>(b), &c, 1));
    print("close: other-byte=%c\n", c);
    show("stdin", sys::close(0));
    show("stdout", sys::close(1));
    show("stderr", sys::close(2));
    show("unopened", sys::close(15));
    show("past-table", sys::close(19));
    show("negative", sys::close(-1));
    show("reopen", sys::open("/etc/motd"));
    sys::close(static_cast<int>(a));
    sys::close(static_cast<int>(b));
}

void test_seek() {
    long fd = sys::open("/etc/motd");
    char a = 0, b = 0;
    sys::read(static_cast<int>(fd), &a, 1);
    show("to-3", sys::seek(static_cast<int>(fd), 3));
    sys::read(static_cast<int>(fd), &b, 1);
    print("seek: bytes=%c%c\n", a, b);
    show("to-0", sys::seek(static_cast<int>(fd), 0));
    sys::read(static_cast<int>(fd), &b, 1);
    print("seek: again=%c\n", b);
    show("past-end", sys::seek(static_cast<int>(fd), 1L << 40));
    show("read-past-end", sys::read(static_cast<int>(fd), &b, 1));
    show("huge", sys::seek(static_cast<int>(fd), -1));
    show("stdin", sys::seek(0, 0));
    show("stdout", sys::seek(1, 0));
    show("unopened", sys::seek(15, 0));
    show("negative", sys::seek(-1, 0));
    sys::close(static_cast<int>(fd));
    show("closed", sys::seek(static_cast<int>(fd), 0));
}

void test_listdir() {
    PosDirEntry e;
    long i = 0;
    for (; sys::listdir(i, &e) == 1; ++i)
        print("listdir: %s %lu %s\n", e.name, static_cast<unsigned long>(e.size), e.executable ? "x" : "-");
    show("end", i);
    show("past-end", sys::listdir(i, &e));
    show("huge-index", sys::listdir(1L << 40, &e));
    show("negative-index", sys::listdir(-1, &e));
    show("kernel-ptr", sys::listdir(0, static_cast<PosDirEntry*>(kernel_ptr())));
    show("read-only", sys::listdir(0, static_cast<PosDirEntry*>(read_only_ptr())));
    show("straddling", sys::listdir(0, reinterpret_cast<PosDirEntry*>(tls_tail(16))));
}

void test_getrandom() {
    static uint8_t a[8192], b[32];
    show("32", sys::getrandom(a, 32));
    show("again", sys::getrandom(b, 32));
    show("differ", memcmp(a, b, 32) != 0);
    show("zero-len", sys::getrandom(a, 0));
    show("clamped", sys::getrandom(a, sizeof a));
    bool seen[256] = {};
    long distinct = 0;
    for (int i = 0; i < 4096; ++i) {
        distinct += !seen[a[i]];
        seen[a[i]] = true;
    }
    show("distinct-bytes-above-200", distinct > 200);
    show("kernel-ptr", sys::getrandom(kernel_ptr(), 16));
    show("null", sys::getrandom(nullptr, 16));
    show("read-only", sys::getrandom(read_only_ptr(), 16));
    show("straddling", sys::getrandom(tls_tail(8), 16));
}

void test_net_open() {
    uint8_t allowed[POS_NET_KEY], other[POS_NET_KEY] = {};
    parse_hex("095fde52bb9adf8ef57595bd6beb61491c0f0423ab84d85ff05bf7e017ca1373", 64, allowed);
    show("bad-mode", sys::net_open(allowed, 0));
    show("both-modes", sys::net_open(allowed, POS_NET_CONNECT | POS_NET_ACCEPT));
    show("connect-any", sys::net_open(nullptr, POS_NET_CONNECT));
    show("kernel-key", sys::net_open(static_cast<const uint8_t*>(kernel_ptr()), POS_NET_CONNECT));
    show("straddling-key", sys::net_open(reinterpret_cast<const uint8_t*>(tls_tail(16)), POS_NET_CONNECT));
    show("denied-connect", sys::net_open(other, POS_NET_CONNECT));
    show("denied-accept", sys::net_open(other, POS_NET_ACCEPT));
    show("allowed-connect", sys::net_open(allowed, POS_NET_CONNECT));
    show("allowed-accept", sys::net_open(allowed, POS_NET_ACCEPT));
    show("allowed-accept-any", sys::net_open(nullptr, POS_NET_ACCEPT));   // alice has an accept rule
    long lo = -1, hi = -1;
    fill_fds(lo, hi);
    show("no-free-fd", sys::net_open(allowed, POS_NET_CONNECT));
    close_range(lo, hi);
}

}  // namespace pos::systest
