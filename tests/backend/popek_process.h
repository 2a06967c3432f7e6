#pragma once
/// Backend-test helper: runs build/popek as a child process on an in-tree guest, feeds its stdin,
/// captures stdout/stderr and the exit status, and kills it after a timeout. Tests are written once
/// and parameterized over engines; an engine popek reports as unusable is skipped visibly.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace popek::test {

inline constexpr const char* kEngines[] = {"kvm", "interp", "bt"};
inline constexpr std::chrono::seconds kGuestTimeout{60};

struct RunResult {
    int status = -1;          ///< exit status, or 128+signal when popek died of a signal
    bool timed_out = false;   ///< killed after the timeout
    std::string out, err;
};

inline std::string guest_elf(std::string_view name) {
    return std::string(POPEK_GUEST_DIR) + "/" + std::string(name) + ".elf";
}

/// Runs `argv` (argv[0] a path, or a name looked up in PATH), writes `input` to its stdin (then
/// closes it), waits at most `timeout`. A program that cannot be started exits with status 127.
inline RunResult run_program(std::vector<std::string> argv_store, std::string_view input = {},
                             std::chrono::milliseconds timeout = kGuestTimeout) {
    RunResult result;
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
        ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe: " << std::strerror(errno);
        return result;
    }
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in_pipe[0], STDIN_FILENO);
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_pipe[1], STDERR_FILENO);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (pid < 0) {
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        return result;
    }
    ::signal(SIGPIPE, SIG_IGN);  // popek may exit before reading all of its input
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    int in_fd = in_pipe[1];
    size_t written = 0;
    if (input.empty()) {
        ::close(in_fd);
        in_fd = -1;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int open_outputs = 2;
    while (open_outputs > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
        int n = ::poll(fds, in_fd >= 0 ? 3 : 2, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                (i == 0 ? out_pipe[0] : err_pipe[0]) = -1;
                --open_outputs;
            }
        }
        if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
            if (written == input.size()) {
                ::close(in_fd);
                in_fd = -1;
            }
        }
    }
    if (in_fd >= 0) ::close(in_fd);
    if (out_pipe[0] >= 0) ::close(out_pipe[0]);
    if (err_pipe[0] >= 0) ::close(err_pipe[0]);
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return result;
}

/// Runs popek with `args`, writes `input` to its stdin (then closes it), waits at most `timeout`.
inline RunResult run_popek(const std::vector<std::string>& args, std::string_view input = {},
                           std::chrono::milliseconds timeout = kGuestTimeout) {
    std::vector<std::string> argv{POPEK_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(std::move(argv), input, timeout);
}

/// When popek refused to start because the engine is unusable on this host (no /dev/kvm, no
/// permission, or an engine this build lacks), the line it printed; otherwise nothing.
inline std::optional<std::string> engine_unusable(const RunResult& r) {
    if (r.status != 2) return std::nullopt;
    for (std::string_view marker : {"/dev/kvm", "is not available in this build"})
        if (r.err.find(marker) != std::string::npos) return r.err.substr(0, r.err.find('\n'));
    return std::nullopt;
}

/// This project's CI host exposes PVM as /dev/kvm: CPL0 guest code runs in KVM's instruction
/// emulator and CPL3 code natively on the host (see docs/ARCHITECTURE.md, KVM notes).
inline bool kvm_is_pvm() {
    struct stat st {};
    return ::stat("/sys/module/kvm_pvm", &st) == 0;
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

inline size_t count_lines(const std::string& text, std::string_view needle) {
    auto lines = lines_of(text);
    return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
        return l.find(needle) != std::string::npos;
    }));
}

/// Fixture for tests parameterized over engines.
class EngineTest : public ::testing::TestWithParam<const char*> {
protected:
    std::string engine() const { return GetParam(); }

    /// Runs `guest` on this engine; skips the test (GTEST_SKIP) when popek says the engine is
    /// unusable. Callers check IsSkipped() (see RUN_GUEST).
    RunResult run_guest(std::string_view guest, std::vector<std::string> extra = {}, std::string_view input = {}) {
        std::vector<std::string> args{"run", "--accel", engine(), "--kernel", guest_elf(guest)};
        args.insert(args.end(), extra.begin(), extra.end());
        RunResult r = run_popek(args, input);
        if (auto why = engine_unusable(r)) {
            [&] { GTEST_SKIP() << "--accel " << engine() << " unusable here: " << *why; }();
            return r;
        }
        EXPECT_FALSE(r.timed_out) << guest << " on " << engine() << " killed after " << kGuestTimeout.count()
                                  << " s; output so far:\n" << r.out;
        return r;
    }

    /// Skips on PVM's KVM, where `why` keeps `guest` from running correctly; on any other KVM and
    /// on the other engines the test runs.
    void skip_on_pvm(std::string_view guest, std::string_view why) {
        if (engine() == "kvm" && kvm_is_pvm())
            GTEST_SKIP() << guest << " on this host's PVM /dev/kvm: " << why;
    }
};

inline std::string engine_name(const ::testing::TestParamInfo<const char*>& info) { return info.param; }

}  // namespace popek::test

/// Runs a guest into `var`, returning from the test when it was skipped.
#define RUN_GUEST(var, ...)                          \
    auto var = run_guest(__VA_ARGS__);               \
    if (::testing::Test::IsSkipped()) return

#define INSTANTIATE_FOR_ENGINES(suite) \
    INSTANTIATE_TEST_SUITE_P(Engines, suite, ::testing::ValuesIn(::popek::test::kEngines), ::popek::test::engine_name)
