// The allow-list of each VMM thread kind (thread_confinement.h). Derived by running the test suite,
// the README's examples and Linux guests under POPEK_SECCOMP_AUDIT=1 and `strace -f -c`; the
// tables in docs/seccomp.md say why each call is there. Keep the two in step.
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <vector>

#include "host/thread_confinement.h"

namespace popek::host {
namespace {

/// What every thread does: its heap (glibc malloc: brk, mmap arenas), locks and condition
/// variables (futex), clocks and sleeps, I/O on descriptors it already holds, abort()'s way out
/// (rt_sigprocmask, getpid, gettid, tgkill of itself), signal return and thread/process exit.
constexpr SyscallRule kCommon[] = {
    {SCMP_SYS(read)},          {SCMP_SYS(write)},          {SCMP_SYS(readv)},          {SCMP_SYS(writev)},
    {SCMP_SYS(close)},         {SCMP_SYS(futex)},          {SCMP_SYS(mmap)},           {SCMP_SYS(munmap)},
    {SCMP_SYS(mremap)},        {SCMP_SYS(mprotect)},       {SCMP_SYS(madvise)},        {SCMP_SYS(brk)},
    {SCMP_SYS(clock_gettime)}, {SCMP_SYS(clock_nanosleep)}, {SCMP_SYS(nanosleep)},     {SCMP_SYS(gettimeofday)},
    {SCMP_SYS(poll)},          {SCMP_SYS(ppoll)},          {SCMP_SYS(sched_yield)},    {SCMP_SYS(getpid)},
    {SCMP_SYS(gettid)},        {SCMP_SYS(tgkill)},         {SCMP_SYS(rt_sigprocmask)}, {SCMP_SYS(rt_sigreturn)},
    {SCMP_SYS(restart_syscall)}, {SCMP_SYS(exit)},         {SCMP_SYS(exit_group)},     {SCMP_SYS(newfstatat)},
    {SCMP_SYS(fstat)},         {SCMP_SYS(lseek)},
};

/// KVM's vCPU ioctls popek makes while running (src/hv/kvm/kvm_vcpu.cpp), and the interrupt lines
/// a device raises from the thread that completes its request (kvm_vm.cpp).
constexpr uint64_t kVcpuIoctls[] = {
    KVM_RUN,       KVM_GET_REGS,  KVM_SET_REGS,     KVM_GET_SREGS, KVM_SET_SREGS,   KVM_TRANSLATE,
    KVM_SET_MP_STATE, KVM_GET_MP_STATE, KVM_GET_TSC_KHZ, KVM_IRQ_LINE, KVM_SIGNAL_MSI,
};
constexpr uint64_t kIrqIoctls[] = {KVM_IRQ_LINE, KVM_SIGNAL_MSI};
/// Device threads: the interrupt lines, and libslirp's FIONREAD (the size of a datagram waiting on
/// one of its UDP sockets) and FIONBIO.
constexpr uint64_t kDeviceIoctls[] = {KVM_IRQ_LINE, KVM_SIGNAL_MSI, FIONREAD, FIONBIO};
/// The terminal popek set raw is restored at exit (vmm/console.cpp TerminalGuard).
constexpr uint64_t kMainIoctls[] = {TCGETS, TCSETS, KVM_IRQ_LINE, KVM_SIGNAL_MSI};
/// libslirp's sockets for the guest's outbound connections and DNS.
constexpr uint64_t kInetDomains[] = {AF_INET, AF_INET6};

/// vCPU: guest exits are handled here, so a disk request's positioned I/O and flush (virtio-blk,
/// the Xen vbd), a frame handed to a network back end (datagram socket, tap write) and a request
/// to the driver domain (seqpacket) all run on this thread.
constexpr SyscallRule kVcpu[] = {
    {SCMP_SYS(ioctl), 1, kVcpuIoctls},
    {SCMP_SYS(pread64)},  {SCMP_SYS(pwrite64)}, {SCMP_SYS(preadv)},   {SCMP_SYS(pwritev)},
    {SCMP_SYS(fdatasync)}, {SCMP_SYS(fsync)},   {SCMP_SYS(fallocate)},
    {SCMP_SYS(sendto)},   {SCMP_SYS(sendmsg)},  {SCMP_SYS(recvfrom)}, {SCMP_SYS(recvmsg)},
    {SCMP_SYS(getrandom)},
};

/// vCPU with `--share` (popekfs, pv/backends/share_dir.cpp): the guest's file requests are served
/// on its vCPU thread, each path opened beneath the shared directory (openat2 RESOLVE_BENEATH),
/// directories listed, made and removed there.
constexpr SyscallRule kVcpuShare[] = {
    {SCMP_SYS(openat2)}, {SCMP_SYS(openat)},  {SCMP_SYS(getdents64)}, {SCMP_SYS(mkdirat)},
    {SCMP_SYS(unlinkat)}, {SCMP_SYS(fcntl)},  {SCMP_SYS(ftruncate)},
};

/// Device / I/O threads: console input, network back ends (libslirp opens sockets for the
/// guest's connections), the Xen timer, the gdb stub (one accepted connection).
constexpr SyscallRule kDevice[] = {
    {SCMP_SYS(ioctl), 1, kDeviceIoctls},
    {SCMP_SYS(socket), 0, kInetDomains},
    {SCMP_SYS(connect)},  {SCMP_SYS(bind)},     {SCMP_SYS(listen)},   {SCMP_SYS(accept4)},
    {SCMP_SYS(setsockopt)}, {SCMP_SYS(getsockopt)}, {SCMP_SYS(getsockname)}, {SCMP_SYS(getpeername)},
    {SCMP_SYS(shutdown)}, {SCMP_SYS(fcntl)},
    {SCMP_SYS(sendto)},   {SCMP_SYS(sendmsg)},  {SCMP_SYS(recvfrom)}, {SCMP_SYS(recvmsg)},
    {SCMP_SYS(pread64)},  {SCMP_SYS(pwrite64)}, {SCMP_SYS(fdatasync)}, {SCMP_SYS(getrandom)},
};

/// API: accepts connections on the bound socket and serves each on a thread of its own (which
/// inherits this filter: clone3 and what a new glibc thread sets up), appends to the logger's and
/// metrics' files (openat), kicks vCPUs to pause them (tgkill, in kCommon) and, on KVM, raises
/// the keyboard's interrupt for SendCtrlAltDel (KVM_IRQ_LINE).
constexpr SyscallRule kApi[] = {
    {SCMP_SYS(ioctl), 1, kIrqIoctls},
    {SCMP_SYS(accept4)},  {SCMP_SYS(recvfrom)}, {SCMP_SYS(sendto)},   {SCMP_SYS(shutdown)},
    {SCMP_SYS(openat)},   {SCMP_SYS(clone3)},   {SCMP_SYS(clone)},    {SCMP_SYS(set_robust_list)},
    {SCMP_SYS(rseq)},     {SCMP_SYS(fcntl)},    {SCMP_SYS(getrandom)},
    // PUT /snapshot/create writes the paused VM's state and memory files (src/snapshot/).
    {SCMP_SYS(pwrite64)}, {SCMP_SYS(ftruncate)}, {SCMP_SYS(fsync)},   {SCMP_SYS(mincore)},
    {SCMP_SYS(fdatasync)},
    // With --share, it checks that each open popekfs handle's path still names its file
    // (ShareBackend::unsaveable: openat2 RESOLVE_BENEATH the shared directory; openat is above).
    {SCMP_SYS(openat2)},
};

/// Main: waits for the VM to end, then tears it down: joins the other threads, stops the
/// driver domain (kill, wait4), removes the API socket (unlink) and restores the terminal.
constexpr SyscallRule kMain[] = {
    {SCMP_SYS(ioctl), 1, kMainIoctls},
    {SCMP_SYS(kill)},     {SCMP_SYS(wait4)},    {SCMP_SYS(unlink)},   {SCMP_SYS(shutdown)},
    {SCMP_SYS(sendto)},   {SCMP_SYS(sendmsg)},  {SCMP_SYS(recvfrom)}, {SCMP_SYS(recvmsg)},
    {SCMP_SYS(fdatasync)}, {SCMP_SYS(openat)},
};

/// Refused with EACCES rather than fatal, on the threads that open no file: glibc's malloc opens
/// /proc/sys/vm/overcommit_memory the first time it shrinks a thread arena's heap
/// (check_may_shrink_heap), on whichever thread that happens (a vCPU's, in bt's translator, after
/// a minute of a Debian boot), and treats a failed open as "not overcommit mode 2". The thread
/// still opens nothing.
constexpr SyscallRule kRefuseOpen[] = {
    {SCMP_SYS(openat), 0, {}, EACCES},
};

/// AddressSanitizer's runtime (the asan preset) probes memory through a pipe and reports with
/// these, as in the driver domain's list (ddom/sandbox.cpp); release builds do not get them.
constexpr SyscallRule kSanitizerOnly[] = {
    {SCMP_SYS(pipe2)}, {SCMP_SYS(sigaltstack)}, {SCMP_SYS(rt_sigaction)}, {SCMP_SYS(prctl)},
};

std::vector<SyscallRule> combine(std::span<const SyscallRule> own) {
    std::vector<SyscallRule> all(std::begin(kCommon), std::end(kCommon));
#if defined(__SANITIZE_ADDRESS__)
    all.insert(all.end(), std::begin(kSanitizerOnly), std::end(kSanitizerOnly));
#else
    (void)kSanitizerOnly;
#endif
    all.insert(all.end(), own.begin(), own.end());
    return all;
}

std::vector<SyscallRule> with_refusals(std::vector<SyscallRule> all) {
    all.insert(all.end(), std::begin(kRefuseOpen), std::end(kRefuseOpen));
    return all;
}

}  // namespace

std::span<const SyscallRule> thread_allow_list(ThreadKind kind, bool share) {
    static const std::vector<SyscallRule> vcpu = with_refusals(combine(kVcpu)), device = with_refusals(combine(kDevice)),
                                          api = combine(kApi), main = combine(kMain);
    static const std::vector<SyscallRule> vcpu_share = [] {
        std::vector<SyscallRule> all = combine(kVcpu);
        all.insert(all.end(), std::begin(kVcpuShare), std::end(kVcpuShare));
        return all;
    }();
    switch (kind) {
        case ThreadKind::Vcpu: return share ? vcpu_share : vcpu;
        case ThreadKind::Device: return device;
        case ThreadKind::Api: return api;
        case ThreadKind::Main: return main;
    }
    return main;
}

}  // namespace popek::host
