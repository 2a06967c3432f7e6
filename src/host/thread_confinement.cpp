#include "host/thread_confinement.h"

#include <seccomp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/core.h>

#include "host/privilege_drop.h"

namespace popek::host {
namespace {

std::atomic<bool> g_enabled{false};
std::atomic<bool> g_audit{false};
int g_audit_fd = STDERR_FILENO;    ///< where audit lines go
std::atomic<int> g_selftest{-1};   ///< a ThreadKind, or -1
std::atomic<bool> g_selftest_done{false};
std::atomic<bool> g_share{false};
thread_local ThreadKind t_kind = ThreadKind::Main;

/// POPEK_SECCOMP_AUDIT: report the call and make it fail with ENOSYS (rax), async-signal-safely.
void audit_handler(int, siginfo_t* info, void* context) {
    char line[96];
    const int n = std::snprintf(line, sizeof line, "popek: seccomp audit: %s thread: syscall %d\n",
                                thread_kind_name(t_kind).data(), info->si_syscall);
    if (n > 0) (void)!::write(g_audit_fd, line, static_cast<size_t>(n));
    auto* uc = static_cast<ucontext_t*>(context);
    uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

/// The self-test's forbidden call: execve(2) of a path that does not exist, so that an
/// unconfined thread gets ENOENT back and nothing runs.
void run_selftest(ThreadKind kind) {
    if (g_selftest.load() != static_cast<int>(kind) || g_selftest_done.exchange(true)) return;
    char path[] = "/nonexistent/popek-seccomp-selftest";
    char* const argv[] = {path, nullptr};
    const long rc = ::syscall(SYS_execve, path, argv, nullptr);
    const int err = errno;
    fmt::print(stderr, "popek: seccomp selftest: execve from a {} thread returned {} ({}): not confined\n",
               thread_kind_name(kind), rc, std::strerror(err));
}

}  // namespace

std::string_view thread_kind_name(ThreadKind kind) {
    switch (kind) {
        case ThreadKind::Vcpu: return "vcpu";
        case ThreadKind::Device: return "device";
        case ThreadKind::Api: return "api";
        case ThreadKind::Main: return "main";
    }
    return "main";
}

std::optional<ThreadKind> parse_thread_kind(std::string_view name) {
    for (ThreadKind k : kAllThreadKinds)
        if (thread_kind_name(k) == name) return k;
    return std::nullopt;
}

Result<void> enable_thread_confinement(bool seccomp) {
    if (const char* s = std::getenv("POPEK_SECCOMP_SELFTEST"); s && *s) {
        auto kind = parse_thread_kind(s);
        if (!kind) return fail("POPEK_SECCOMP_SELFTEST={}: expected vcpu, device, api or main", s);
        g_selftest = static_cast<int>(*kind);
    }
    if (const char* a = std::getenv("POPEK_SECCOMP_AUDIT"); seccomp && a && *a) {
        if (std::string_view(a) != "1") {
            g_audit_fd = ::open(a, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            if (g_audit_fd < 0) return fail_errno("POPEK_SECCOMP_AUDIT={}", a);
        }
        struct sigaction sa {};
        sa.sa_sigaction = audit_handler;
        sa.sa_flags = SA_SIGINFO;
        if (::sigaction(SIGSYS, &sa, nullptr) != 0) return fail_errno("sigaction SIGSYS");
        g_audit = true;
    }
    // glibc reads /etc/localtime on the first localtime_r (the CMOS RTC's host time, on a vCPU
    // thread): load it now, while openat is still allowed.
    ::tzset();
    g_enabled = seccomp;
    return {};
}

bool thread_confinement_enabled() { return g_enabled.load(); }

void set_confinement_share(bool share) { g_share = share; }

void confine_this_thread(ThreadKind kind) {
    t_kind = kind;
    // Capabilities and credentials first (capset, setresuid are on no list), then the filter.
    if (auto dropped = drop_thread_privileges(); !dropped) {
        fmt::print(stderr, "popek: dropping privileges on a {} thread: {}\n", thread_kind_name(kind),
                   dropped.error().message);
        std::_Exit(4);
    }
    if (g_enabled.load()) {
        const uint32_t action = g_audit.load() ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
        if (auto r = load_allow_list(action, thread_allow_list(kind, g_share.load())); !r) {
            fmt::print(stderr, "popek: seccomp for a {} thread: {} (--no-seccomp runs without)\n",
                       thread_kind_name(kind), r.error().message);
            std::_Exit(4);
        }
    }
    if (g_selftest.load() >= 0) run_selftest(kind);
}

}  // namespace popek::host
