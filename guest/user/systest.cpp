/// systest CALL: exercises one system call (docs/guest-os.md "System calls"), its results and its
/// error cases, and prints one `CALL: case=result` line per case for
/// tests/backend/guest_os_syscall_test.cpp to compare exactly. Results are the raw return values
/// (negative POS_E* on error). `systest child-*` are the children the process calls start.
#include "rt/ulib.h"

using namespace pos;

namespace {

const char* g_call = "";

void show(const char* what, long value) { print("%s: %s=%ld\n", g_call, what, value); }

// Hostile pointers: the kernel half, an unmapped user page, and read-only user memory (text).
const uintptr_t kKernel = 0xffffffff80100000, kUnmapped = 0x1000;
const char kReadOnly[64] = "read-only data";
void* kernel_ptr() { return reinterpret_cast<void*>(kKernel); }
void* unmapped_ptr() { return reinterpret_cast<void*>(kUnmapped); }
void* read_only_ptr() { return const_cast<char*>(kReadOnly); }

/// `len` bytes at the end of the TLS page (abi.h): the next page is not mapped, so a buffer of
/// more than `len` bytes from here, or a string without its NUL, runs off mapped memory.
char* tls_tail(size_t len) { return reinterpret_cast<char*>(POS_USER_TLS_BASE + 4096 - len); }

long child(const char* role, const char* arg = nullptr) {
    const char* argv[] = {"systest", role, arg};
    return sys::spawn("/bin/systest", argv, arg != nullptr ? 3 : 2);
}

/// Waits for `pid`; its exit status, or the wait error.
long reap(long pid) {
    int status = -999;
    long r = sys::wait(static_cast<int>(pid), &status);
    return r == pid ? status : r;
}

long to_long(const char* s) {
    long sign = *s == '-' ? -1 : 1, v = 0;
    if (*s == '-') ++s;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return sign * v;
}

/// The state ps gives for `pid`, or -1 if it is not in the table.
long ps_state(long pid) {
    PosProcInfo list[32];
    long n = sys::ps(list, 32);
    for (long i = 0; i < n; ++i)
        if (list[i].pid == pid) return list[i].state;
    return -1;
}

/// Opens /etc/motd until the kernel refuses; returns the refusal and the fds it gave in [lo, hi].
long fill_fds(long& lo, long& hi) {
    lo = -1;
    for (;;) {
        long fd = sys::open("/etc/motd");
        if (fd < 0) return fd;
        if (lo < 0) lo = fd;
        hi = fd;
    }
}
void close_range(long lo, long hi) {
    for (long fd = lo; lo >= 0 && fd <= hi; ++fd) sys::close(static_cast<int>(fd));
}

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

void test_spawn() {
    const char* echo[] = {"echo", "spawned", "child"};
    long pid = sys::spawn("/bin/echo", echo, 3);
    show("echo-status", reap(pid));
    show("echo-pid-above-mine", pid > sys::getpid());
    const char* args[] = {"argv0", "child-args", "two words", "", "last"};
    show("args-status", reap(sys::spawn("/bin/systest", args, 5)));
    show("user-status", reap(child("child-whoami")));
    show("missing", sys::spawn("/bin/nothing", echo, 1));
    show("not-executable", sys::spawn("/etc/motd", echo, 1));
    show("not-elf", sys::spawn("/bin/not-an-elf", echo, 1));
    show("denied", sys::spawn("/sbin/echo-admin", echo, 1));
    show("not-canonical", sys::spawn("/bin/../bin/echo", echo, 1));
    show("argc-zero", sys::spawn("/bin/echo", echo, 0));
    const char* many[POS_ARG_MAX + 1];
    for (auto& m : many) m = "x";
    show("argc-16", reap(sys::spawn("/bin/echo", many, POS_ARG_MAX)));
    show("argc-17", sys::spawn("/bin/echo", many, POS_ARG_MAX + 1));
    static char big[300];
    memset(big, 'b', sizeof big - 1);
    const char* two_big[] = {"echo", big, big};   // 5 + 2 * 300 bytes > 512
    show("args-too-long", sys::spawn("/bin/echo", two_big, 3));
    show("bad-path", sys::spawn(static_cast<const char*>(kernel_ptr()), echo, 1));
    show("bad-argv", sys::spawn("/bin/echo", static_cast<const char* const*>(unmapped_ptr()), 1));
    const char* bad_string[] = {"echo", static_cast<const char*>(kernel_ptr())};
    show("bad-arg-string", sys::spawn("/bin/echo", bad_string, 2));
    show("straddling-argv", sys::spawn("/bin/echo", reinterpret_cast<const char* const*>(tls_tail(8)), 2));
    char path[POS_PATH_MAX + 8];
    memset(path, 'p', sizeof path);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    show("path-too-long", sys::spawn(path, echo, 1));
}

void test_wait() {
    int status = -999;
    show("no-child", sys::wait(-1, &status));
    show("shell", sys::wait(1, &status));
    show("self", sys::wait(static_cast<int>(sys::getpid()), &status));
    long pid = child("child-exit", "7");
    show("bad-status-ptr", sys::wait(static_cast<int>(pid), static_cast<int*>(kernel_ptr())));
    show("read-only-status", sys::wait(static_cast<int>(pid), static_cast<int*>(read_only_ptr())));
    long got = sys::wait(static_cast<int>(pid), &status);
    print("wait: child=%s status=%d\n", got == pid ? "reaped" : "other", status);
    show("again", sys::wait(static_cast<int>(pid), &status));
    long one = child("child-exit", "1"), two = child("child-exit", "2");
    int s1 = 0, s2 = 0;
    long w1 = sys::wait(-1, &s1), w2 = sys::wait(-1, &s2);
    bool both = (w1 == one && w2 == two) || (w1 == two && w2 == one);
    print("wait: any=%s statuses=%d\n", both ? "both" : "wrong", s1 + s2);
    show("any-then", sys::wait(-1, &status));
    pid = child("child-exit", "5");
    show("null-status-is-pid", sys::wait(static_cast<int>(pid), nullptr) == pid);
    show("killed", reap(child("child-fault")));
}

void test_exit() {
    show("zero", reap(child("child-exit", "0")));
    show("42", reap(child("child-exit", "42")));
    show("255", reap(child("child-exit", "255")));
    show("minus-one", reap(child("child-exit", "-1")));
    show("wide", reap(child("child-exit", "4294967301")));   // 2^32 + 5: the status is an int
    show("main-return", reap(child("child-return", "9")));
    show("no-return", reap(child("child-exit-twice")));
    show("open-files", reap(child("child-exit-open", "3")));
}

void test_whoami() {
    PosUserInfo info;
    memset(&info, 0xff, sizeof info);
    long r = sys::whoami(&info);
    char hex[65];
    for (int i = 0; i < 32; ++i) format(hex + 2 * i, 3, "%02x", info.public_key[i]);
    print("whoami: ret=%ld name=%s key=%s\n", r, info.name, hex);
    show("name-padded", info.name[31] == 0 && info.name[strlen(info.name) + 1] == 0);
    show("kernel-ptr", sys::whoami(static_cast<PosUserInfo*>(kernel_ptr())));
    show("null", sys::whoami(nullptr));
    show("read-only", sys::whoami(static_cast<PosUserInfo*>(read_only_ptr())));
    show("straddling", sys::whoami(reinterpret_cast<PosUserInfo*>(tls_tail(32))));
    show("child-status", reap(child("child-whoami")));
}

/// ps into a 38 KiB stack array: its lower pages were never touched (the kernel maps them).
__attribute__((noinline)) long ps_into_untouched_stack() {
    PosProcInfo deep[400];
    long n = sys::ps(deep, 1);
    return n == 1 && deep[0].pid == 1 ? n : -1;
}

void test_ps() {
    PosProcInfo list[32];
    long n = sys::ps(list, 32);
    show("count", n);
    for (long i = 0; i < n; ++i)
        print("ps: pid=%d parent=%d state=%u user=%s name=%s\n", list[i].pid, list[i].parent, list[i].state,
              list[i].user, list[i].name);
    show("getpid", sys::getpid());
    show("max-one", sys::ps(list, 1));
    show("max-zero", sys::ps(list, 0));
    show("max-negative", sys::ps(list, -1) == n);
    show("kernel-ptr", sys::ps(static_cast<PosProcInfo*>(kernel_ptr()), 1));
    show("read-only", sys::ps(static_cast<PosProcInfo*>(read_only_ptr()), 1));
    show("untouched-stack", ps_into_untouched_stack());
    show("too-small", sys::ps(reinterpret_cast<PosProcInfo*>(tls_tail(sizeof(PosProcInfo))), 2));
    long napper = child("child-nap", "300");
    sys::sleep_ms(100);
    show("napping-child", ps_state(napper));
    show("napping-status", reap(napper));
    long quick = child("child-exit", "0");
    sys::sleep_ms(100);
    show("exited-child", ps_state(quick));
    reap(quick);
    show("reaped-child", ps_state(quick));
}

void test_yield() {
    long bad = 0;
    for (int i = 0; i < 100; ++i) bad += sys::yield() != 0;
    show("non-zero-results", bad);
    // A runnable child gets the CPU while its parent only yields (never sleeps or waits).
    long pid = child("child-exit", "4");
    int yields = 0;
    while (ps_state(pid) != POS_PROC_ZOMBIE && yields < 100000) {
        sys::yield();
        ++yields;
    }
    show("child-finished", ps_state(pid) == POS_PROC_ZOMBIE);
    show("child-status", reap(pid));
}

void test_sleep() {
    long t0 = sys::uptime_ms();
    show("ret", sys::sleep_ms(200));
    show("elapsed", sys::uptime_ms() - t0);
    show("zero", sys::sleep_ms(0));   // (up to one tick)
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

/// SYSCALL clobbers rcx and r11 only (abi.h): fills the argument and callee-saved registers,
/// makes a call and counts the registers that changed.
long clobbered_registers() {
    uint64_t after[9];
    asm volatile(
        "mov $0x1111, %%rdi\n mov $0x2222, %%rsi\n mov $0x3333, %%rdx\n mov $0x4444, %%r8\n"
        "mov $0x5555, %%r9\n mov $0x6666, %%r10\n mov $0x7777, %%r12\n mov $0x8888, %%r13\n"
        "mov $0x9999, %%r14\n mov %[nr], %%eax\n syscall\n"
        "mov %%rdi, 0(%[out])\n mov %%rsi, 8(%[out])\n mov %%rdx, 16(%[out])\n mov %%r8, 24(%[out])\n"
        "mov %%r9, 32(%[out])\n mov %%r10, 40(%[out])\n mov %%r12, 48(%[out])\n mov %%r13, 56(%[out])\n"
        "mov %%r14, 64(%[out])\n"
        : : [out] "r"(after), [nr] "i"(POS_SYS_GETPID)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "memory");
    const uint64_t before[9] = {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0x7777, 0x8888, 0x9999};
    long changed = 0;
    for (int i = 0; i < 9; ++i) changed += after[i] != before[i];
    return changed;
}

void test_getpid() {
    long self = sys::getpid();
    show("self", self);
    show("stable", sys::getpid() == self);
    long pid = child("child-pid");
    reap(pid);   // first: the child's line comes before this one
    show("spawned", pid);
    show("clobbered-registers", clobbered_registers());
}

void test_uptime() {
    long t0 = sys::uptime_ms(), last = t0, backwards = 0;
    for (int i = 0; i < 1000; ++i) {
        long t = sys::uptime_ms();
        backwards += t < last;
        last = t;
    }
    show("non-negative", t0 >= 0);   // 0 in the first 10 ms of the timer
    show("backwards", backwards);
    show("start", sys::uptime_ms());
    sys::sleep_ms(500);
    show("end", sys::uptime_ms());
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
    show("denied-accept-any", sys::net_open(nullptr, POS_NET_ACCEPT));
    show("allowed-connect", sys::net_open(allowed, POS_NET_CONNECT));
    show("allowed-accept", sys::net_open(allowed, POS_NET_ACCEPT));
    long lo = -1, hi = -1;
    fill_fds(lo, hi);
    show("no-free-fd", sys::net_open(allowed, POS_NET_CONNECT));
    close_range(lo, hi);
}

void test_nosys() {
    show("64", sys::call(64));
    show("999", sys::call(999));
    show("minus-one", sys::call(-1));
    show("getpid-with-high-bits", sys::call((1L << 32) | POS_SYS_GETPID));
}

/// The children the tests above start.
int run_child(const char* role, const char* arg, int argc, char** argv) {
    if (strcmp(role, "child-exit") == 0) sys::call(POS_SYS_EXIT, to_long(arg));   // all 64 bits
    if (strcmp(role, "child-return") == 0) return static_cast<int>(to_long(arg));
    if (strcmp(role, "child-exit-twice") == 0) {
        sys::call(POS_SYS_EXIT, 3);
        print("child: exit returned\n");
        pos_exit(1);
    }
    if (strcmp(role, "child-exit-open") == 0) {
        long lo = -1, hi = -1;
        fill_fds(lo, hi);
        pos_exit(static_cast<int>(to_long(arg)));
    }
    if (strcmp(role, "child-args") == 0) {
        print("child: argc=%d", argc);
        for (int i = 0; i < argc; ++i) print(" [%s]", argv[i]);
        print("\n");
        return argv[argc] == nullptr ? 0 : 1;
    }
    if (strcmp(role, "child-whoami") == 0) {
        PosUserInfo info;
        long r = sys::whoami(&info);
        print("child: whoami=%ld name=%s\n", r, info.name);
        return 0;
    }
    if (strcmp(role, "child-pid") == 0) {
        print("child: getpid=%ld\n", sys::getpid());
        return 0;
    }
    if (strcmp(role, "child-nap") == 0) return static_cast<int>(sys::sleep_ms(to_long(arg)));
    if (strcmp(role, "child-fault") == 0) return *static_cast<volatile int*>(unmapped_ptr());
    print("systest: unknown child %s\n", role);
    return 2;
}

struct Test {
    const char* name;
    void (*run)();
};
const Test kTests[] = {
    {"write", test_write},     {"read", test_read},     {"open", test_open},       {"close", test_close},
    {"spawn", test_spawn},     {"wait", test_wait},     {"exit", test_exit},       {"whoami", test_whoami},
    {"ps", test_ps},           {"yield", test_yield},   {"sleep", test_sleep},     {"listdir", test_listdir},
    {"getpid", test_getpid},   {"uptime", test_uptime}, {"getrandom", test_getrandom},
    {"net_open", test_net_open}, {"nosys", test_nosys},
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
