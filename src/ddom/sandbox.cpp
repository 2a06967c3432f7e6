#include "ddom/sandbox.h"

#include <grp.h>
#include <linux/close_range.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

namespace popek::ddom {

Result<void> close_other_fds(int keep_max) {
    if (::syscall(SYS_close_range, static_cast<unsigned>(keep_max + 1), ~0u, 0u) != 0) return fail_errno("close_range");
    return {};
}

Result<void> drop_privileges() {
    if (::geteuid() == 0) {
        if (::setgroups(0, nullptr) != 0) return fail_errno("setgroups");
        if (::setresgid(kNobody, kNobody, kNobody) != 0) return fail_errno("setresgid nobody");
        if (::setresuid(kNobody, kNobody, kNobody) != 0) return fail_errno("setresuid nobody");
        if (::setuid(0) == 0) return fail("still able to become root after dropping privileges");
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_NO_NEW_PRIVS");
    // A credential change clears the parent-death signal, so set it afterwards: a VMM that dies
    // takes its driver domain with it.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail_errno("PR_SET_PDEATHSIG");
    return {};
}

Result<void> install_seccomp() {
    std::unique_ptr<void, decltype(&seccomp_release)> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS), &seccomp_release);
    if (!ctx) return fail("seccomp_init failed");
    // recv/send are recvfrom/sendto on x86-64; the rest is glibc's malloc, stdio to stderr and exit.
    static constexpr int kAllowed[] = {
        SCMP_SYS(read),      SCMP_SYS(write),     SCMP_SYS(pread64),  SCMP_SYS(pwrite64),
        SCMP_SYS(fdatasync), SCMP_SYS(fallocate), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
        SCMP_SYS(sendto),    SCMP_SYS(sendmsg),   SCMP_SYS(poll),     SCMP_SYS(ppoll),
        SCMP_SYS(futex),     SCMP_SYS(mmap),      SCMP_SYS(munmap),   SCMP_SYS(mremap),
        SCMP_SYS(brk),       SCMP_SYS(madvise),   SCMP_SYS(close),    SCMP_SYS(rt_sigreturn),
        SCMP_SYS(clock_gettime), SCMP_SYS(exit),  SCMP_SYS(exit_group),
    };
    // AddressSanitizer's runtime (the asan preset) probes memory through a pipe and reports with
    // these; release builds do not get them.
    static constexpr int kSanitizerOnly[] = {
        SCMP_SYS(pipe2), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction),
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(sched_yield), SCMP_SYS(prctl), SCMP_SYS(tgkill), SCMP_SYS(mprotect),
    };
    constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
        true;
#else
        false;
#endif
    for (int nr : kAllowed)
        if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc != 0)
            return fail("seccomp_rule_add({}) failed: {}", nr, rc);
    if (kSanitized)
        for (int nr : kSanitizerOnly)
            if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc != 0)
                return fail("seccomp_rule_add({}) failed: {}", nr, rc);
    if (int rc = seccomp_load(ctx.get()); rc != 0) return fail("seccomp_load failed: {}", rc);
    return {};
}

}  // namespace popek::ddom
