#pragma once
/// popek-os (guest/, docs/guest-os.md) driven through its console by the backend tests
/// (guest_os_test.cpp, guest_os_syscall_test.cpp): the platforms it runs on, the console session
/// (popek as a child process, stdin and stdout on pipes), and the host-side facts the tests check
/// the guest against (the source files packed into its image, the policy's keys).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "hv/hypervisor.h"

namespace popek::test::guest_os {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// How popek-os is run: the engine, whether popek plays Xen (`--xen`: PV console, timer, disk),
/// and how many vCPUs it gets (`--cpus`).
struct Platform {
    const char* accel;
    bool xen;
    int cpus = 1;
};

inline std::string platform_name(const Platform& p) {
    return std::string(p.accel) + (p.xen ? "_xen" : "") + (p.cpus > 1 ? "_" + std::to_string(p.cpus) + "cpus" : "");
}

/// Names the parameter in test listings (gtest would print its bytes, a pointer among them).
inline void PrintTo(const Platform& p, std::ostream* os) { *os << platform_name(p); }

/// popek running popek-os, its console (COM1 or xencons) on two pipes. Output has "\r" removed.
class ConsoleSession {
public:
    ConsoleSession(const ConsoleSession&) = delete;
    ConsoleSession& operator=(const ConsoleSession&) = delete;

    static std::unique_ptr<ConsoleSession> start(const Platform& platform, std::vector<std::string> extra = {}) {
        if (platform.xen) extra.insert(extra.begin(), "--xen");
        if (platform.cpus > 1) extra.insert(extra.begin(), {"--cpus", std::to_string(platform.cpus)});
        const std::string accel = platform.accel;
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) != 0) return nullptr;
        if (::pipe2(out, O_CLOEXEC) != 0) return nullptr;
        pid_t pid = ::fork();
        if (pid == 0) {
            ::dup2(in[0], STDIN_FILENO);
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(out[1], STDERR_FILENO);
            std::vector<const char*> argv{POPEK_BINARY, "run", "--accel", accel.c_str(), "--kernel", POPEK_OS_ELF};
            for (auto& e : extra) argv.push_back(e.c_str());
            argv.push_back(nullptr);
            ::execv(POPEK_BINARY, const_cast<char**>(argv.data()));
            ::_exit(127);
        }
        ::close(in[0]);
        ::close(out[1]);
        return std::unique_ptr<ConsoleSession>(new ConsoleSession(pid, in[1], out[0]));
    }

    ~ConsoleSession() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, nullptr, 0);
        }
        if (m_in >= 0) ::close(m_in);
        ::close(m_out);
    }

    /// Waits until `text` appears after the cursor; moves the cursor past it.
    bool wait_for(std::string_view text, std::chrono::milliseconds timeout = 20s) {
        auto deadline = Clock::now() + timeout;
        for (;;) {
            size_t at = m_output.find(text, m_cursor);
            if (at != std::string::npos) {
                m_cursor = at + text.size();
                return true;
            }
            if (!read_some(deadline)) return false;
        }
    }

    /// Types `command` at the prompt and returns what it printed before the next prompt
    /// (without the echoed command line). Fails the test if no prompt comes back.
    std::string run(const std::string& command, std::chrono::milliseconds timeout = 20s) {
        size_t start = m_cursor;
        send(command + "\n");
        bool prompt = wait_for("\n$ ", timeout);
        EXPECT_TRUE(prompt) << "no prompt after `" << command << "`; output:\n" << m_output.substr(start);
        std::string text = m_output.substr(start, (prompt ? m_cursor - 2 : m_output.size()) - start);
        size_t echo = text.find(command + "\n");
        if (echo != std::string::npos) text.erase(0, echo + command.size() + 1);
        return text;
    }

    void send(const std::string& bytes) {
        if (::write(m_in, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) ADD_FAILURE() << "write";
    }

    /// Waits for popek to exit; its exit status, or -1 if it had to be killed.
    int finish(std::chrono::milliseconds timeout = 20s) {
        auto deadline = Clock::now() + timeout;
        while (read_some(deadline)) {
        }
        int ws = 0;
        for (;;) {
            pid_t r = ::waitpid(m_pid, &ws, WNOHANG);
            if (r == m_pid) break;
            if (Clock::now() > deadline) {
                ::kill(m_pid, SIGKILL);
                ::waitpid(m_pid, &ws, 0);
                m_pid = -1;
                return -1;
            }
            ::usleep(10000);
        }
        m_pid = -1;
        return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    }

    const std::string& output() const { return m_output; }

private:
    ConsoleSession(pid_t pid, int in, int out) : m_pid(pid), m_in(in), m_out(out) {}

    /// Appends whatever arrives before `deadline`; false on timeout or end of output.
    bool read_some(Clock::time_point deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{m_out, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buf[4096];
        ssize_t n = ::read(m_out, buf, sizeof buf);
        if (n <= 0) return false;
        for (ssize_t i = 0; i < n; ++i)
            if (buf[i] != '\r') m_output.push_back(buf[i]);
        return true;
    }

    pid_t m_pid;
    int m_in, m_out;
    std::string m_output;
    size_t m_cursor = 0;
};

inline std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline fs::path build_dir() { return fs::path(POPEK_OS_ELF).parent_path(); }

inline fs::path source_file(const std::string& rel) { return fs::path(POPEK_OS_SOURCE_DIR) / "files" / rel; }

/// The public key the policy file gives `user` (read on the host, independently of the guest).
inline std::string policy_key(const std::string& user) {
    std::string policy = read_text(source_file("etc/policy"));
    std::smatch m;
    if (std::regex_search(policy, m, std::regex("\\nuser " + user + " +([0-9a-f]{64})"))) return m[1];
    return {};
}

/// A scratch directory removed at the end of the test.
class ScratchDir {
public:
    ScratchDir() : m_path(fs::temp_directory_path() / ("popek-os-test-" + std::to_string(::getpid()))) {
        fs::create_directories(m_path);
    }
    ~ScratchDir() { fs::remove_all(m_path); }
    fs::path file(const std::string& name, const std::string& content = {}) const {
        std::ofstream(m_path / name, std::ios::binary) << content;
        return m_path / name;
    }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

/// Packs `args` ([x:]SOURCE=/PATH) with the project's own table tool.
inline bool pack_table(const fs::path& out, const std::vector<std::string>& args) {
    std::string cmd = (build_dir() / "popek_os_mkfiletable").string() + " " + out.string();
    for (auto& a : args) cmd += " '" + a + "'";
    return std::system(cmd.c_str()) == 0;
}

inline std::string program(const char* name) { return "x:" + (build_dir() / "bin" / name).string() + "=/bin/" + name; }

/// Skips the test when the engine cannot run on this host or in this build.
#define SKIP_UNLESS_ENGINE_USABLE(name)                                                              \
    do {                                                                                             \
        auto accel_ = popek::hv::parse_accel(name);                                                  \
        ASSERT_TRUE(accel_.has_value());                                                             \
        auto hv_ = popek::hv::open_hypervisor(*accel_);                                              \
        if (!hv_) GTEST_SKIP() << "--accel " << (name) << " unusable here: " << hv_.error().message; \
        ASSERT_TRUE(std::filesystem::exists(POPEK_OS_ELF)) << POPEK_OS_ELF << " not built";                       \
    } while (0)

/// popek-os booted on the test's platform, its shell prompt reached (m_boot: how long that took).
class BootedShellTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override {
        SKIP_UNLESS_ENGINE_USABLE(GetParam().accel);
        auto t0 = Clock::now();
        m_session = ConsoleSession::start(GetParam());
        ASSERT_NE(m_session, nullptr);
        ASSERT_TRUE(m_session->wait_for("$ ", 30s)) << "no shell prompt; output:\n" << m_session->output();
        m_boot = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    }

    std::unique_ptr<ConsoleSession> m_session;
    std::chrono::milliseconds m_boot{};
};

/// Every platform, and the Xen ones (PV devices) alone, for INSTANTIATE_TEST_SUITE_P.
inline const auto kPlatforms = ::testing::Values(Platform{"kvm", false}, Platform{"interp", false},
                                                 Platform{"bt", false}, Platform{"kvm", true},
                                                 Platform{"interp", true}, Platform{"bt", true});
inline const auto kXenPlatforms = ::testing::Values(Platform{"kvm", true}, Platform{"interp", true},
                                                    Platform{"bt", true});
inline const auto name_of = [](const auto& param_info) { return platform_name(param_info.param); };

}  // namespace popek::test::guest_os
