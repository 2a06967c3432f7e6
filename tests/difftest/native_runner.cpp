#include "native_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>

#include <cstring>

extern "C" void popek_difftest_enter(const popek::difftest::RegFile* regs);

namespace popek::difftest {

/// The control block at offset 0 of the shared memfd; code and data follow it.
struct NativeRunner::Shared {
    RegFile in;
    RegFile out;
    uint64_t trapno;
    uint64_t error_code;
    uint64_t signo;
};

namespace {

constexpr size_t kControlSize = 4096;
constexpr size_t kCodeOffset = kControlSize;
constexpr size_t kDataOffset = kCodeOffset + kCodeSize;
constexpr size_t kSharedSize = kDataOffset + kDataSize;
constexpr uint8_t kNativeTail[] = {0x0f, 0x0b};  // UD2
constexpr int kTimeoutMs = 5000;

// Child-side state. The child never allocates: fork() may happen after other threads exist.
NativeRunner::Shared* g_shared = nullptr;
sigjmp_buf g_jump;
alignas(16) uint8_t g_altstack[64 * 1024];

/// ucontext register numbers in hardware encoding order (RAX, RCX, ... R15).
constexpr int kUcontextGpr[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                  REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

void on_trap(int sig, siginfo_t*, void* context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    const greg_t* g = uc->uc_mcontext.gregs;
    const auto rip = static_cast<uint64_t>(g[REG_RIP]);
    if (rip < kCodeAddr || rip >= kCodeAddr + kCodeSize) _exit(100 + sig);  // the harness itself broke
    for (int i = 0; i < 16; ++i) g_shared->out.gpr[static_cast<size_t>(i)] = static_cast<uint64_t>(g[kUcontextGpr[i]]);
    g_shared->out.rip = rip;
    g_shared->out.rflags = static_cast<uint64_t>(g[REG_EFL]);
    g_shared->trapno = static_cast<uint64_t>(g[REG_TRAPNO]);
    g_shared->error_code = static_cast<uint64_t>(g[REG_ERR]);
    g_shared->signo = static_cast<uint64_t>(sig);
    siglongjmp(g_jump, 1);
}

[[noreturn]] void child_main(int memfd, int cmd_fd, int result_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::mmap(reinterpret_cast<void*>(kCodeAddr), kCodeSize, PROT_READ | PROT_EXEC,
               MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, kCodeOffset) != reinterpret_cast<void*>(kCodeAddr))
        _exit(90);
    if (::mmap(reinterpret_cast<void*>(kDataAddr), kDataSize, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_FIXED_NOREPLACE, memfd, kDataOffset) != reinterpret_cast<void*>(kDataAddr))
        _exit(91);
    stack_t ss{};
    ss.ss_sp = g_altstack;
    ss.ss_size = sizeof(g_altstack);
    if (::sigaltstack(&ss, nullptr) != 0) _exit(92);
    struct sigaction sa {};
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGILL, SIGFPE, SIGSEGV, SIGBUS, SIGTRAP})
        if (::sigaction(sig, &sa, nullptr) != 0) _exit(93);
    for (;;) {
        char cmd;
        if (::read(cmd_fd, &cmd, 1) != 1) _exit(0);
        if (sigsetjmp(g_jump, 1) == 0) popek_difftest_enter(&g_shared->in);
        if (::write(result_fd, &cmd, 1) != 1) _exit(94);
    }
}

}  // namespace

Result<NativeRunner> NativeRunner::create() {
    NativeRunner r;
    int fd = ::memfd_create("popek-difftest", MFD_CLOEXEC);
    if (fd < 0) return fail_errno("memfd_create");
    r.m_memfd.reset(fd);
    if (::ftruncate(fd, kSharedSize) != 0) return fail_errno("ftruncate");
    void* p = ::mmap(nullptr, kSharedSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail_errno("mmap shared block");
    r.m_map = UniqueMapping(p, kSharedSize);
    r.m_shared = static_cast<Shared*>(p);
    TRY_VOID(r.spawn());
    return r;
}

NativeRunner::NativeRunner(NativeRunner&& o) noexcept
    : m_memfd(std::move(o.m_memfd)), m_map(std::move(o.m_map)), m_shared(std::exchange(o.m_shared, nullptr)),
      m_to_child(std::move(o.m_to_child)), m_from_child(std::move(o.m_from_child)),
      m_pid(std::exchange(o.m_pid, -1)) {}

NativeRunner::~NativeRunner() { reap(); }

void NativeRunner::reap() {
    if (m_pid <= 0) return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
}

Result<void> NativeRunner::spawn() {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return fail_errno("pipe");
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
        ::close(to_child[0]);
        ::close(to_child[1]);
        return fail_errno("pipe");
    }
    g_shared = m_shared;  // inherited by the child through fork()
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("fork");
    if (pid == 0) child_main(m_memfd.get(), to_child[0], from_child[1]);
    ::close(to_child[0]);
    ::close(from_child[1]);
    m_to_child.reset(to_child[1]);
    m_from_child.reset(from_child[0]);
    m_pid = pid;
    return {};
}

Result<Outcome> NativeRunner::run(const Case& c) {
    auto* base = static_cast<uint8_t*>(m_map.get());
    if (c.code.size() + sizeof(kNativeTail) > kCodeSize) return fail("case code too large");
    std::memcpy(base + kCodeOffset, c.code.data(), c.code.size());
    std::memcpy(base + kCodeOffset + c.code.size(), kNativeTail, sizeof(kNativeTail));
    std::memcpy(base + kDataOffset, c.data.data(), kDataSize);
    m_shared->in = c.initial;
    m_shared->signo = 0;

    Outcome out;
    const char cmd = 'r';
    char reply = 0;
    pollfd pfd{m_from_child.get(), POLLIN, 0};
    if (::write(m_to_child.get(), &cmd, 1) != 1) return fail_errno("writing to the native child");
    const int ready = ::poll(&pfd, 1, kTimeoutMs);
    if (ready != 1 || ::read(m_from_child.get(), &reply, 1) != 1) {
        if (ready == 1) {  // EOF: the child exited; collect its status
            int status = 0;
            ::waitpid(m_pid, &status, 0);
            m_pid = -1;
            out.detail = fmt::format("native child died (wait status {:#x})", status);
        } else {
            out.detail = "native run timed out";
        }
        reap();
        TRY_VOID(spawn());
        return out;
    }
    out.regs = m_shared->out;
    out.data.assign(base + kDataOffset, base + kDataOffset + kDataSize);
    const bool at_tail = out.regs.rip == c.tail_addr();
    if (m_shared->signo == SIGILL && at_tail) {
        out.kind = EndKind::Completed;
    } else {
        out.kind = EndKind::Exception;
        out.vector = static_cast<int>(m_shared->trapno);
        if (vector_has_error_code(out.vector)) out.error_code = m_shared->error_code;
    }
    return out;
}

}  // namespace popek::difftest
