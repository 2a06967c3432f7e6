// Least privilege (issue 19 item 6; host/privileges.h, host/privilege_drop.h): a running popek
// cannot gain privileges by exec (NoNewPrivs 1), and once set up every one of its threads holds
// no capability and an empty bounding set; with --uid/--gid every thread runs as that user and
// group with no supplementary groups, with --chroot inside the jail, and the guest still runs.
// Read from /proc/PID/task/TID/status of a running popek: capabilities are per thread.
#include <gmock/gmock.h>

#include <dirent.h>
#include <grp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "popek_process.h"

namespace popek::test {
namespace {

using Status = std::map<std::string, std::string>;

/// /proc/`pid`/task/`tid`/status as field -> value (leading blanks removed).
Status read_status(const std::string& path) {
    Status fields;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto value = line.find_first_not_of(" \t", colon + 1);
        fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
    }
    return fields;
}

/// Every thread of `pid`: tid -> its status.
std::map<std::string, Status> thread_statuses(pid_t pid) {
    std::map<std::string, Status> threads;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        Status s = read_status(e.path().string() + "/status");
        if (!s.empty()) threads[e.path().filename().string()] = std::move(s);
    }
    return threads;
}

bool started_as_root() { return ::geteuid() == 0; }

/// popek on the serial_echo guest, stdin and stdout pipes held open; killed at the end.
class EchoingPopek {
public:
    explicit EchoingPopek(std::vector<std::string> extra) {
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
        std::vector<std::string> args{POPEK_BINARY, "run", "--accel", "interp", "--kernel", guest_elf("serial_echo")};
        args.insert(args.end(), extra.begin(), extra.end());
        m_pid = ::fork();
        if (m_pid == 0) {
            ::dup2(in[0], STDIN_FILENO);
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(out[1], STDERR_FILENO);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(in[0]);
        ::close(out[1]);
        m_in = in[1];
        m_out = out[0];
    }
    ~EchoingPopek() {
        if (m_in >= 0) ::close(m_in);
        if (m_out >= 0) ::close(m_out);
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, nullptr, 0);
        }
    }
    pid_t pid() const { return m_pid; }

    /// The threads once set-up is over: at least two (the vCPU and the main thread) and none
    /// holding an effective capability, or what there is after 10 s.
    std::map<std::string, Status> threads_after_setup() const {
        std::map<std::string, Status> threads;
        for (int i = 0; i < 200; ++i) {
            threads = thread_statuses(m_pid);
            bool settled = threads.size() >= 2;
            for (auto& [tid, s] : threads) settled = settled && s["CapEff"] == "0000000000000000";
            if (settled) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return threads;
    }

    /// Sends `line` and returns what popek printed until `expect` appeared (or 10 s passed).
    std::string echo(const std::string& line, const std::string& expect) {
        (void)!::write(m_in, line.data(), line.size());
        std::string seen;
        for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
             std::chrono::steady_clock::now() < end && seen.find(expect) == std::string::npos;) {
            pollfd p{m_out, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char buf[512];
            ssize_t n = ::read(m_out, buf, sizeof buf);
            if (n <= 0) break;
            seen.append(buf, static_cast<size_t>(n));
        }
        return seen;
    }

private:
    pid_t m_pid = -1;
    int m_in = -1, m_out = -1;
};

constexpr const char* kNoCaps = "0000000000000000";

TEST(Privileges, ARunningPopekCannotGainPrivilegesByExec) {
    EchoingPopek popek({});
    ASSERT_GT(popek.pid(), 0);
    auto threads = popek.threads_after_setup();
    ASSERT_GE(threads.size(), 2u) << "popek did not start";
    for (auto& [tid, s] : threads) EXPECT_EQ(s["NoNewPrivs"], "1") << "thread " << tid << " (" << s["Name"] << ")";
}

TEST(Privileges, EveryThreadDropsItsCapabilitiesOnceSetUp) {
    if (!started_as_root()) GTEST_SKIP() << "not root: popek has no capabilities to drop";
    // --no-seccomp: the drop does not depend on the filters.
    for (bool seccomp : {true, false}) {
        EchoingPopek popek(seccomp ? std::vector<std::string>{} : std::vector<std::string>{"--no-seccomp"});
        ASSERT_GT(popek.pid(), 0);
        auto threads = popek.threads_after_setup();
        ASSERT_GE(threads.size(), 3u) << "expected the main, vCPU, console and timer threads";
        for (auto& [tid, s] : threads) {
            SCOPED_TRACE("thread " + tid + " (" + s["Name"] + "), seccomp " + std::to_string(seccomp));
            for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"}) EXPECT_EQ(s[set], kNoCaps) << set;
            EXPECT_EQ(s["NoNewPrivs"], "1");
            EXPECT_EQ(s["Uid"], "0\t0\t0\t0") << "without --uid the user stays";
        }
        EXPECT_THAT(popek.echo("still here\n", "STILL HERE"), testing::HasSubstr("STILL HERE"));
    }
}

TEST(Privileges, UidGidAndChrootApplyToEveryThreadAndTheGuestRuns) {
    if (!started_as_root()) GTEST_SKIP() << "--uid, --gid and --chroot need popek started as root";
    const std::string jail = testing::TempDir() + "popek-jail-" + std::to_string(::getpid());
    std::filesystem::create_directories(jail);
    {
        EchoingPopek popek({"--uid", "65534", "--gid", "65533", "--chroot", jail});
        ASSERT_GT(popek.pid(), 0);
        auto threads = popek.threads_after_setup();
        ASSERT_GE(threads.size(), 3u);
        for (auto& [tid, s] : threads) {
            SCOPED_TRACE("thread " + tid + " (" + s["Name"] + ")");
            EXPECT_EQ(s["Uid"], "65534\t65534\t65534\t65534");
            EXPECT_EQ(s["Gid"], "65533\t65533\t65533\t65533");
            EXPECT_EQ(s["Groups"], "") << "no supplementary group is kept";
            for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapBnd"}) EXPECT_EQ(s[set], kNoCaps) << set;
            EXPECT_EQ(s["NoNewPrivs"], "1");
        }
        std::error_code ec;
        EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(popek.pid()) + "/root", ec).string(),
                  std::filesystem::canonical(jail).string());
        EXPECT_THAT(popek.echo("jailed\n", "JAILED"), testing::HasSubstr("JAILED"));
    }
    EXPECT_TRUE(std::filesystem::is_empty(jail)) << "popek needs nothing in the jail";
    std::filesystem::remove_all(jail);
}

TEST(Privileges, ADropPopekCannotMakeIsAUsageError) {
    // Not root (a child that became nobody first): --uid is refused, not silently skipped.
    if (!started_as_root()) GTEST_SKIP() << "needs root to start popek as another user";
    int err[2];
    ASSERT_EQ(::pipe(err), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(err[1], STDERR_FILENO);
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
            ::_exit(126);
        ::execl(POPEK_BINARY, POPEK_BINARY, "run", "--accel", "interp", "--uid", "1", "--gid", "1", "--kernel",
                guest_elf("hello").c_str(), nullptr);
        ::_exit(127);
    }
    ::close(err[1]);
    std::string text;
    char buf[512];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
    ::close(err[0]);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    ASSERT_TRUE(WIFEXITED(wstatus));
    EXPECT_EQ(WEXITSTATUS(wstatus), 2) << text;
    EXPECT_THAT(text, testing::StartsWith("popek: --uid, --gid and --chroot need popek started as root"));
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

}  // namespace
}  // namespace popek::test
