// The per-thread seccomp allow-lists (host/thread_confinement.h, docs/seccomp.md): each case
// runs in a forked child that loads one kind's list with SCMP_ACT_KILL_PROCESS and makes one call;
// the child either exits 0 (the call was allowed, whatever it returned) or dies of SIGSYS.
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <cerrno>
#include <unistd.h>

#include <functional>

#include "host/thread_confinement.h"
#include "vmm/vm_metrics.h"

namespace {

using popek::host::ThreadKind;

/// The signal that ended the child (0: it exited 0 after the call).
int run_confined(ThreadKind kind, const std::function<void()>& call) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (!popek::host::load_allow_list(SCMP_ACT_KILL_PROCESS, popek::host::thread_allow_list(kind))) ::_exit(3);
        call();
        ::_exit(0);
    }
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) return WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    return 0;
}

void execve_nothing() {
    char path[] = "/nonexistent/popek-test";
    char* const argv[] = {path, nullptr};
    ::syscall(SYS_execve, path, argv, nullptr);
}

TEST(ThreadConfinement, ExecveKillsEveryKind) {
    for (ThreadKind k : popek::host::kAllThreadKinds) {
        EXPECT_EQ(run_confined(k, execve_nothing), SIGSYS) << popek::host::thread_kind_name(k);
        // The same child without the call lives: the list itself lets a thread write and exit.
        EXPECT_EQ(run_confined(k, [] { (void)!::write(-1, "", 0); }), 0) << popek::host::thread_kind_name(k);
    }
}

TEST(ThreadConfinement, KvmRunOnlyOnVcpuThreads) {
    // KVM_RUN on a closed descriptor: EBADF where ioctl(KVM_RUN) is allowed (no /dev/kvm needed).
    auto kvm_run = [] { (void)::ioctl(-1, KVM_RUN, 0); };
    EXPECT_EQ(run_confined(ThreadKind::Vcpu, kvm_run), 0);
    EXPECT_EQ(run_confined(ThreadKind::Device, kvm_run), SIGSYS);
    EXPECT_EQ(run_confined(ThreadKind::Api, kvm_run), SIGSYS);
    // An interrupt line may be raised by any thread that completes device work or sends
    // SendCtrlAltDel; the main thread's teardown too.
    auto irq_line = [] { (void)::ioctl(-1, KVM_IRQ_LINE, nullptr); };
    for (ThreadKind k : popek::host::kAllThreadKinds) EXPECT_EQ(run_confined(k, irq_line), 0) << popek::host::thread_kind_name(k);
    EXPECT_EQ(run_confined(ThreadKind::Main, kvm_run), SIGSYS);
    // Another ioctl request, even on a vCPU thread, is not on the list.
    EXPECT_EQ(run_confined(ThreadKind::Vcpu, [] { (void)::ioctl(-1, FIONBIO, nullptr); }), SIGSYS);
}

TEST(ThreadConfinement, InetSocketsOnlyOnDeviceThreads) {
    auto inet = [] { ::close(::socket(AF_INET, SOCK_STREAM, 0)); };
    EXPECT_EQ(run_confined(ThreadKind::Device, inet), 0);   // libslirp's outbound connections
    EXPECT_EQ(run_confined(ThreadKind::Device, [] { ::close(::socket(AF_UNIX, SOCK_STREAM, 0)); }), SIGSYS);
    // libslirp sizes a waiting UDP datagram with FIONREAD (XenNetifTest.ArpAndUdpEchoThroughSlirp).
    EXPECT_EQ(run_confined(ThreadKind::Device, [] { int n = 0; (void)::ioctl(-1, FIONREAD, &n); }), 0);
    EXPECT_EQ(run_confined(ThreadKind::Vcpu, [] { int n = 0; (void)::ioctl(-1, FIONREAD, &n); }), SIGSYS);
    EXPECT_EQ(run_confined(ThreadKind::Vcpu, inet), SIGSYS);
    EXPECT_EQ(run_confined(ThreadKind::Api, inet), SIGSYS);
    EXPECT_EQ(run_confined(ThreadKind::Main, inet), SIGSYS);
}

// glibc's malloc opens /proc/sys/vm/overcommit_memory the first time it shrinks a thread arena,
// on whatever thread frees: a vCPU thread (in bt's translator) died of SIGSYS a minute into a
// Debian boot (docs/distro.md). Threads that open no file get EACCES for openat, not death.
TEST(ThreadConfinement, OpenatFailsQuietlyWhereNoFileIsOpened) {
    auto probe = [] {
        const int fd = ::open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EACCES) ::_exit(5);
    };
    EXPECT_EQ(run_confined(ThreadKind::Vcpu, probe), 0);
    EXPECT_EQ(run_confined(ThreadKind::Device, probe), 0);
    // The vCPU list with --share opens files beneath the shared directory: openat stays allowed.
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (!popek::host::load_allow_list(SCMP_ACT_KILL_PROCESS, popek::host::thread_allow_list(ThreadKind::Vcpu, true)))
            ::_exit(3);
        const int fd = ::open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
        ::_exit(fd >= 0 ? 0 : 6);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    // Other file calls stay fatal.
    EXPECT_EQ(run_confined(ThreadKind::Vcpu, [] { (void)::syscall(SYS_open, "/", 0); }), SIGSYS);
}

TEST(ThreadConfinement, KindNames) {
    for (ThreadKind k : popek::host::kAllThreadKinds)
        EXPECT_EQ(popek::host::parse_thread_kind(popek::host::thread_kind_name(k)), k);
    EXPECT_FALSE(popek::host::parse_thread_kind("gpu"));
}

TEST(VmMetrics, ExitsAndXenCallsByKind) {
    popek::vmm::VcpuExitCounts exits;
    exits.count(popek::hv::PioOut{});
    exits.count(popek::hv::PioOut{});
    exits.count(popek::hv::MmioRead{});
    exits.count(popek::hv::Halt{});
    const auto j = exits.to_json();
    EXPECT_EQ(j["exit_io_out"], 2u);
    EXPECT_EQ(j["exit_mmio_read"], 1u);
    EXPECT_EQ(j["exit_hlt"], 1u);
    EXPECT_EQ(j["exit_io_in"], 0u);

    popek::vmm::XenCallCounts xen;
    uint64_t result = 0;
    xen.count(popek::hv::Hypercall{32, {4, 0, 0, 0, 0}, &result});   // EVTCHNOP_send
    xen.count(popek::hv::Hypercall{32, {4, 0, 0, 0, 0}, &result});
    xen.count(popek::hv::Hypercall{29, {0, 0, 0, 0, 0}, &result});   // sched_op
    xen.count(popek::hv::Hypercall{1000, {0, 0, 0, 0, 0}, &result});  // no such hypercall
    const auto x = xen.to_json();
    EXPECT_EQ(x["hypercalls"], 4u);
    EXPECT_EQ(x["hypercalls_by_nr"]["32"], 2u);
    EXPECT_EQ(x["hypercalls_unknown_nr"], 1u);
    EXPECT_EQ(x["event_channel_sends"], 2u);
}

}  // namespace
