// A running popek cannot gain privileges by exec (issue 19 item 6, in part): its
// /proc/PID/status shows NoNewPrivs 1 and, when it was started with CAP_SETPCAP (as root), a
// bounding set of only CAP_SETGID and CAP_SETUID (host/privileges.h). Its effective set is
// still what it was started with: dropping it after set-up is not done yet.
#include <gmock/gmock.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "host/privileges.h"
#include "popek_process.h"

namespace popek::test {
namespace {

/// The value of `field` in /proc/`pid`/status ("" when absent).
std::string status_field(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(field + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", field.size() + 1));
    return {};
}

bool this_process_has_setpcap() {
    return (std::stoull(status_field(::getpid(), "CapEff"), nullptr, 16) >> 8) & 1;  // CAP_SETPCAP
}

TEST(Privileges, ARunningPopekCannotGainPrivilegesByExec) {
    // popek with its stdin a pipe held open: the echo guest runs until the pipe closes.
    int in[2];
    ASSERT_EQ(::pipe(in), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in[0], STDIN_FILENO);
        ::close(in[1]);
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, STDOUT_FILENO);
        ::execl(POPEK_BINARY, POPEK_BINARY, "run", "--accel", "interp", "--kernel", guest_elf("serial_echo").c_str(),
                nullptr);
        ::_exit(127);
    }
    ::close(in[0]);
    // Wait until its vCPU thread exists: set-up is over.
    std::string threads;
    for (int i = 0; i < 100 && (threads.empty() || std::stoi(threads) < 2); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        threads = status_field(pid, "Threads");
    }
    const std::string no_new_privs = status_field(pid, "NoNewPrivs"), bounding = status_field(pid, "CapBnd");
    ::close(in[1]);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ASSERT_FALSE(threads.empty()) << "popek did not start";
    EXPECT_EQ(no_new_privs, "1");
    if (!this_process_has_setpcap()) GTEST_SKIP() << "not started with CAP_SETPCAP: the bounding set stays as it was";
    EXPECT_EQ(std::stoull(bounding, nullptr, 16), host::kKeptBoundingCaps) << "CapBnd " << bounding;
}

}  // namespace
}  // namespace popek::test
