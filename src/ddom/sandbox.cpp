#include "ddom/sandbox.h"

#include <grp.h>
#include <linux/close_range.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "host/seccomp_filter.h"

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
    using host::SyscallRule;
    // recv/send are recvfrom/sendto on x86-64; the rest is glibc's malloc, stdio to stderr and exit.
    static constexpr SyscallRule kAllowed[] = {
        {SCMP_SYS(read)},      {SCMP_SYS(write)},     {SCMP_SYS(pread64)},  {SCMP_SYS(pwrite64)},
        {SCMP_SYS(fdatasync)}, {SCMP_SYS(fallocate)}, {SCMP_SYS(recvfrom)}, {SCMP_SYS(recvmsg)},
        {SCMP_SYS(sendto)},    {SCMP_SYS(sendmsg)},   {SCMP_SYS(poll)},     {SCMP_SYS(ppoll)},
        {SCMP_SYS(futex)},     {SCMP_SYS(mmap)},      {SCMP_SYS(munmap)},   {SCMP_SYS(mremap)},
        {SCMP_SYS(brk)},       {SCMP_SYS(madvise)},   {SCMP_SYS(close)},    {SCMP_SYS(rt_sigreturn)},
        {SCMP_SYS(clock_gettime)}, {SCMP_SYS(exit)},  {SCMP_SYS(exit_group)},
    };
    // AddressSanitizer's runtime (the asan preset) probes memory through a pipe and reports with
    // these; release builds do not get them.
    static constexpr SyscallRule kSanitizerOnly[] = {
        {SCMP_SYS(pipe2)}, {SCMP_SYS(getpid)}, {SCMP_SYS(gettid)}, {SCMP_SYS(sigaltstack)}, {SCMP_SYS(rt_sigaction)},
        {SCMP_SYS(rt_sigprocmask)}, {SCMP_SYS(sched_yield)}, {SCMP_SYS(prctl)}, {SCMP_SYS(tgkill)}, {SCMP_SYS(mprotect)},
    };
    constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
        true;
#else
        false;
#endif
    std::vector<SyscallRule> rules(std::begin(kAllowed), std::end(kAllowed));
    if (kSanitized) rules.insert(rules.end(), std::begin(kSanitizerOnly), std::end(kSanitizerOnly));
    return host::load_allow_list(SCMP_ACT_KILL_PROCESS, rules);
}

}  // namespace popek::ddom
