#include "ddom/remote_blkif.h"

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "ddom/copy_server.h"
#include "ddom/seqpacket.h"

namespace popek::ddom {
namespace {

/// The fds the child finds its socket and disk on (see `popek backend --help`).
constexpr int kChildSocketFd = 3, kChildDiskFd = 4;

}  // namespace

Result<std::unique_ptr<RemoteBlkif>> RemoteBlkif::spawn(pv::GrantTable& grants, pv::DomId domid, int disk_fd,
                                                        bool readonly, const std::string& exe) {
    auto [vmm_end, child_end] = TRY(make_socketpair());
    UniqueFd ours(vmm_end), theirs(child_end);
    // Above the target numbers, so that one dup2 of the spawn cannot overwrite the other's source.
    UniqueFd disk(::fcntl(disk_fd, F_DUPFD_CLOEXEC, 10));
    UniqueFd socket(::fcntl(theirs.get(), F_DUPFD_CLOEXEC, 10));
    if (!disk.valid() || !socket.valid()) return fail_errno("--driver-domain: dup");
    std::vector<std::string> args{"popek", "backend", "--socket-fd", std::to_string(kChildSocketFd),
                                  "--disk-fd", std::to_string(kChildDiskFd), "--domid", std::to_string(domid)};
    if (readonly) args.emplace_back("--read-only");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // Only stdin (/dev/null), stderr (popek's, for its log), the socket and the disk reach the
    // child: stdout is the guest's console, and every other descriptor popek holds (guest RAM's
    // memfd, /dev/kvm) is close-on-exec.
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, socket.get(), kChildSocketFd);
    posix_spawn_file_actions_adddup2(&fa, disk.get(), kChildDiskFd);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return fail_errno("--driver-domain: cannot start {} backend", exe);
    }
    return std::make_unique<RemoteBlkif>(grants, domid, std::move(ours), pid);
}

RemoteBlkif::RemoteBlkif(pv::GrantTable& grants, pv::DomId domid, UniqueFd socket, pid_t pid)
    : m_grants(grants), m_domid(domid), m_socket(std::move(socket)), m_pid(pid) {}

RemoteBlkif::~RemoteBlkif() { stop_child(); }

void RemoteBlkif::stop_child() {
    m_socket.reset();  // the child's receive sees the end and it exits
    if (m_pid <= 0) return;
    if (m_failure) ::kill(m_pid, SIGKILL);  // a child that broke the protocol is not trusted to exit
    for (int i = 0; i < 100; ++i) {
        if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) {
            m_pid = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // A popek that dropped its capabilities (host/privilege_drop.h) may not signal the child,
    // which runs as nobody: then the child is not waited for; it dies with popek (its
    // PR_SET_PDEATHSIG) rather than hang the teardown.
    if (::kill(m_pid, SIGKILL) == 0) ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
}

std::nullopt_t RemoteBlkif::fail_with(std::string why) {
    // This runs on the thread serving the vbd, confined to its seccomp list (no kill, no wait):
    // the connection is cut, so a child that broke the protocol gets nothing more from popek,
    // and it is killed and reaped at teardown (stop_child, on the main thread).
    fmt::print(stderr, "popek: driver domain {}: {}\n", m_domid, why);
    m_failure = std::move(why);
    m_socket.reset();
    return std::nullopt;
}

std::optional<blkif_response_t> RemoteBlkif::execute(const blkif_request_t& req) {
    if (m_failure) return std::nullopt;
    if (auto r = send_message(m_socket.get(), encode_request(req)); !r) return fail_with(r.error().message);
    for (int copies = 0;;) {
        auto got = receive_message(m_socket.get(), m_buf, kTimeoutMs);
        if (!got) return fail_with(got.error().message);
        auto msg = parse(*got);
        if (!msg) return fail_with("malformed message: " + msg.error().message);
        switch (msg->type) {
        case MessageType::GrantCopy:
            if (++copies > kMaxCopiesPerRequest) return fail_with("too many grant copies for one request");
            if (auto r = send_message(m_socket.get(), serve_copy(m_grants, m_domid, *msg)); !r)
                return fail_with(r.error().message);
            continue;
        case MessageType::BlkifResponse:
            if (msg->response.id != req.id) return fail_with("response for another request");
            return msg->response;
        default: return fail_with(fmt::format("unexpected message type {}", static_cast<int>(msg->type)));
        }
    }
}

}  // namespace popek::ddom
