/// systest: the process calls (spawn, wait, exit, whoami, ps, yield, sleep, getpid, uptime), unknown
/// numbers, and the children they start.
#include "systest/systest.h"

namespace pos::systest {

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

void test_nosys() {
    show("64", sys::call(64));
    show("999", sys::call(999));
    show("minus-one", sys::call(-1));
    show("getpid-with-high-bits", sys::call((1L << 32) | POS_SYS_GETPID));
}

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

}  // namespace pos::systest
