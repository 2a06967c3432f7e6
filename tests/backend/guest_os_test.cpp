// popek-os (guest/, docs/guest-os.md) booted by the popek binary and driven through its console:
// the shell's commands, the authorization policy's denials, programs that fault, hostile system
// call arguments, sleep and preemption. Every test runs on every engine, once on the PC devices
// (COM1, LAPIC timer) and once under `--xen` on the PV devices (xencons, VIRQ_TIMER, blkif); an
// engine this host or build cannot run is skipped with the reason.
//
// The console session below is this file's own small subprocess helper (stdin and stdout pipes);
// no shared one exists on main yet.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <atomic>
#include <future>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hv/hypervisor.h"
#include "popek_process.h"
#include "hostile_relay.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using popek::test::run_popek;
using popek::test::RunResult;

/// How popek-os is run: the engine, and whether popek plays Xen (`--xen`: PV console, timer, disk).
struct Platform {
    const char* accel;
    bool xen;
};

std::string platform_name(const Platform& p) { return std::string(p.accel) + (p.xen ? "_xen" : ""); }

/// popek running popek-os, its console (COM1 or xencons) on two pipes. Output has "\r" removed.
class ConsoleSession {
public:
    ConsoleSession(const ConsoleSession&) = delete;
    ConsoleSession& operator=(const ConsoleSession&) = delete;

    static std::unique_ptr<ConsoleSession> start(const Platform& platform, std::vector<std::string> extra = {}) {
        if (platform.xen) extra.insert(extra.begin(), "--xen");
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

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path build_dir() { return fs::path(POPEK_OS_ELF).parent_path(); }

fs::path source_file(const std::string& rel) { return fs::path(POPEK_OS_SOURCE_DIR) / "files" / rel; }

/// The public key the policy file gives `user` (read on the host, independently of the guest).
std::string policy_key(const std::string& user) {
    std::string policy = read_text(source_file("etc/policy"));
    std::smatch m;
    if (std::regex_search(policy, m, std::regex("\\nuser " + user + " +([0-9a-f]{64})"))) return m[1];
    return {};
}

/// Skips the test when the engine cannot run on this host or in this build.
#define SKIP_UNLESS_ENGINE_USABLE(name)                                                              \
    do {                                                                                             \
        auto accel_ = popek::hv::parse_accel(name);                                                  \
        ASSERT_TRUE(accel_.has_value());                                                             \
        auto hv_ = popek::hv::open_hypervisor(*accel_);                                              \
        if (!hv_) GTEST_SKIP() << "--accel " << (name) << " unusable here: " << hv_.error().message; \
        ASSERT_TRUE(fs::exists(POPEK_OS_ELF)) << POPEK_OS_ELF << " not built";                       \
    } while (0)

class GuestOsTest : public ::testing::TestWithParam<Platform> {
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

TEST_P(GuestOsTest, BootsToThePromptWithTheBootLog) {
    const std::string& out = m_session->output();
    EXPECT_NE(out.find("popek-os: policy: 4 users"), std::string::npos) << out;
    EXPECT_NE(out.find("boot user alice"), std::string::npos) << out;
    EXPECT_NE(out.find("popek-os: files: "), std::string::npos) << out;
    std::cout << "[ boot ] " << platform_name(GetParam()) << ": prompt after " << m_boot.count() << " ms\n";
}

TEST_P(GuestOsTest, UsesThePvDevicesUnderXenAndThePcOnesOtherwise) {
    const std::string& out = m_session->output();
    if (GetParam().xen) {
        EXPECT_NE(out.find("popek-os 0.2 (Xen PV: xencons console, VIRQ_TIMER tick, SCHEDOP_block idle)"),
                  std::string::npos) << out;
        EXPECT_NE(out.find("popek-os: timer: Xen VIRQ_TIMER + VCPUOP_set_singleshot_timer, 100 Hz tick"),
                  std::string::npos) << out;
        EXPECT_NE(out.find("popek-os: xen: no virtual disk"), std::string::npos) << out;
        EXPECT_NE(out.find("popek-os: xen: no network interface"), std::string::npos) << out;
        EXPECT_EQ(out.find("lapic timer"), std::string::npos) << out;
    } else {
        EXPECT_NE(out.find("(no Xen: COM1 console, LAPIC timer, built-in files)"), std::string::npos) << out;
        EXPECT_NE(out.find("lapic timer"), std::string::npos) << out;
    }
}

TEST_P(GuestOsTest, EchoPrintsItsArguments) {
    EXPECT_EQ(m_session->run("echo hello   popek world"), "hello popek world\n");
    EXPECT_EQ(m_session->run("echo"), "\n");
}

TEST_P(GuestOsTest, CatPrintsPackedFiles) {
    EXPECT_EQ(m_session->run("cat /etc/motd"), read_text(source_file("etc/motd")));
    EXPECT_EQ(m_session->run("cat /home/alice/notes.txt /etc/motd"),
              read_text(source_file("home/alice/notes.txt")) + read_text(source_file("etc/motd")));
    std::string missing = m_session->run("cat /etc/nothing-here");
    EXPECT_NE(missing.find("denied: user=alice action=open object=/etc/nothing-here"), std::string::npos)
        << "opens are checked before the lookup, so a missing file is not revealed: " << missing;
}

TEST_P(GuestOsTest, LsListsEveryFileWithItsSize) {
    std::string out = m_session->run("ls");
    for (const char* rel : {"etc/motd", "etc/policy", "home/alice/notes.txt"}) {
        std::string line = std::to_string(fs::file_size(source_file(rel))) + " - /" + rel + "\n";
        EXPECT_NE(out.find(line), std::string::npos) << line << " not in\n" << out;
    }
    for (const char* prog : {"/bin/sh", "/bin/echo", "/bin/cat", "/bin/ls", "/bin/ps", "/bin/whoami"})
        EXPECT_TRUE(std::regex_search(out, std::regex(std::string("[0-9]+ x ") + prog + "\n"))) << prog << "\n" << out;
    std::string bin = m_session->run("ls /etc/");
    EXPECT_EQ(bin.find("/bin/"), std::string::npos) << bin;
    EXPECT_NE(bin.find("/etc/motd"), std::string::npos) << bin;
}

TEST_P(GuestOsTest, WhoamiNamesTheBootUserAndItsKey) {
    std::string key = policy_key("alice");
    ASSERT_EQ(key.size(), 64u);
    EXPECT_EQ(m_session->run("whoami"), "alice key=" + key + "\n");
}

TEST_P(GuestOsTest, PsListsTheShellAndItself) {
    std::string out = m_session->run("ps");
    // The shell waits for ps, unless a tick preempted it between spawn and wait.
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +1 +0 alice +(sleep|run) +sh\n)"))) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +[0-9]+ +1 alice +run +ps\n)"))) << out;
}

TEST_P(GuestOsTest, UnknownCommandsAreReported) {
    EXPECT_EQ(m_session->run("frobnicate"), "sh: frobnicate: no such file\n");
}

TEST_P(GuestOsTest, PolicyDeniesOpensAndExecsAndLogsThem) {
    std::string secret = m_session->run("cat /etc/secret");
    EXPECT_NE(secret.find("denied: user=alice action=open object=/etc/secret reason=no rule allows it"),
              std::string::npos) << secret;
    EXPECT_NE(secret.find("cat: /etc/secret: permission denied"), std::string::npos) << secret;
    EXPECT_EQ(secret.find("launch code"), std::string::npos) << secret;

    std::string other_home = m_session->run("cat /home/bob/diary.txt");
    EXPECT_NE(other_home.find("denied: user=alice action=open object=/home/bob/diary.txt"), std::string::npos)
        << other_home;

    std::string admin = m_session->run("/sbin/echo-admin hi");
    EXPECT_NE(admin.find("denied: user=alice action=exec object=/sbin/echo-admin"), std::string::npos) << admin;
    EXPECT_NE(admin.find("sh: /sbin/echo-admin: permission denied"), std::string::npos) << admin;
    EXPECT_EQ(admin.find("\nhi\n"), std::string::npos) << admin;
}

TEST_P(GuestOsTest, DotDotCannotEscapeAnAllowedPrefix) {
    // alice may open /home/alice/*; a path through it back to /etc/secret must not match.
    std::string out = m_session->run("cat /home/alice/../../etc/secret");
    EXPECT_NE(out.find("invalid argument"), std::string::npos) << out;
    EXPECT_EQ(out.find("launch code"), std::string::npos) << out;
    EXPECT_NE(m_session->run("cat /home/alice//notes.txt").find("invalid argument"), std::string::npos);
    EXPECT_NE(m_session->run("/bin/./echo x").find("invalid argument"), std::string::npos);
}

TEST_P(GuestOsTest, FaultingProgramsAreKilledAndTheKernelSurvives) {
    struct Case { const char* kind; const char* message; int status; };
    const Case cases[] = {
        {"pf", "page fault at address 0x10 (not mapped, read)", 128 + 14},
        {"kpf", "page fault at address 0xffffffff80100000 (protection, write)", 128 + 14},
        {"gp", "general protection fault", 128 + 13},
        {"ud", "invalid opcode", 128 + 6},
        {"de", "divide error", 128 + 0},
    };
    for (const Case& c : cases) {
        std::string out = m_session->run(std::string("fault ") + c.kind);
        EXPECT_TRUE(std::regex_search(out, std::regex(std::string("popek-os: killed pid [0-9]+ \\(fault\\): ") +
                                                      std::regex_replace(c.message, std::regex(R"([()])"), R"(\$&)"))))
            << c.kind << ":\n" << out;
        EXPECT_NE(out.find("sh: fault: exit status " + std::to_string(c.status) + "\n"), std::string::npos)
            << c.kind << ":\n" << out;
    }
    EXPECT_EQ(m_session->run("echo still alive"), "still alive\n");
    std::string ps = m_session->run("ps");
    EXPECT_EQ(ps.find("fault"), std::string::npos) << "killed processes were reaped:\n" << ps;
}

TEST_P(GuestOsTest, StackGrowsOnDemandUpToItsLimit) {
    // 48 frames of a bit more than 1 KiB: pages below the first are mapped on first touch.
    EXPECT_EQ(m_session->run("fault stack"), "fault: stack\nstack: 48 KiB, sum 48\n");
    std::string out = m_session->run("fault overflow");
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(popek-os: killed pid [0-9]+ \(fault\): page fault at address 0x7ffefffe[0-9a-f]{4} \(not mapped, write\))")))
        << out;
    EXPECT_EQ(out.find("stack: 128 KiB"), std::string::npos) << out;
}

TEST_P(GuestOsTest, HostileSystemCallArgumentsGetErrors) {
    // Kernel pointers, unmapped pointers, a bad number and a bad argv: each an error code.
    EXPECT_EQ(m_session->run("fault sys"), "fault: sys\nsys: write=-14 read=-14 open=-14 nosys=-38 spawn=-14\n");
    EXPECT_EQ(m_session->run("echo ok"), "ok\n");
}

TEST_P(GuestOsTest, FileDescriptorMisuseGetsErrors) {
    EXPECT_EQ(m_session->run("fault files"), "fault: files\nfiles: badflags=-22 readonly-fd=-9 badfd=-9 closed=-9\n");
}

TEST_P(GuestOsTest, FrameCallsAreForNetdOnly) {
    // netd's calls from an ordinary program: refused before any argument is looked at, and each
    // attempt logged like a policy denial; then net_open's argument checks.
    EXPECT_EQ(m_session->run("fault net"),
              "fault: net\n"
              "denied: user=alice action=netd_frame_tx object=fault reason=reserved for netd\n"
              "denied: user=alice action=netd_frame_rx object=fault reason=reserved for netd\n"
              "denied: user=alice action=netd_next_request object=fault reason=reserved for netd\n"
              "denied: user=alice action=netd_deliver object=fault reason=reserved for netd\n"
              "net: frame_tx=-1 frame_rx=-1 next_request=-1 deliver=-1\n"
              "net_open: badmode=-22 nokey=-22 kernelkey=-14\n");
    // Without --xen --net there is no netd: a channel cannot be opened, and the user is told why.
    if (!GetParam().xen) {
        // (the test peer's key, which the policy allows alice to connect to)
        EXPECT_EQ(m_session->run("send 095fde52bb9adf8ef57595bd6beb61491c0f0423ab84d85ff05bf7e017ca1373 x"),
                  "send: 095fde52bb9adf8e: no network (netd is not running)\nsh: send: exit status 1\n");
    }
    EXPECT_EQ(m_session->run("echo ok"), "ok\n");
}

TEST_P(GuestOsTest, WritesNeedAWriteRule) {
    std::string out = m_session->run("put /etc/motd defaced");
    EXPECT_NE(out.find("denied: user=alice action=write object=/etc/motd reason=no rule allows it"), std::string::npos)
        << out;
    EXPECT_NE(out.find("put: /etc/motd: permission denied"), std::string::npos) << out;
    EXPECT_EQ(m_session->run("cat /etc/motd"), read_text(source_file("etc/motd")));
}

TEST_P(GuestOsTest, LongConsoleLinesAndManyCommandsGoThrough) {
    // A line near the shell's limit (255 bytes, 15 arguments): more than a UART FIFO holds.
    std::string words;
    for (int i = 10; i < 22; ++i) words += " word-" + std::to_string(i) + "-abcdefghij";
    EXPECT_EQ(m_session->run("echo" + words), words.substr(1) + "\n");
    // Typed ahead in one burst: every command runs, in order.
    m_session->send("echo one\necho two\necho three\n");
    for (const char* w : {"one\n$ ", "two\n$ ", "three\n$ "}) EXPECT_TRUE(m_session->wait_for(w)) << m_session->output();
    EXPECT_EQ(m_session->run("echo done"), "done\n");
}

TEST_P(GuestOsTest, SleepWaitsOnTheTimer) {
    auto t0 = Clock::now();
    std::string out = m_session->run("sleep 1000");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(^slept 10[0-9]0 ms\n$)"))) << out;
    EXPECT_GE(ms, 900) << "the guest's second must be a real second";
}

TEST_P(GuestOsTest, BusyProcessesArePreempted) {
    // Three workers that never block, each spinning 300 ms of guest time: with preemption all
    // finish and the shell gets them back.
    std::string out = m_session->run("spin 3", 30s);
    for (int i = 0; i < 3; ++i)
        EXPECT_NE(out.find("spin worker " + std::to_string(i) + " done"), std::string::npos) << out;
    EXPECT_NE(out.find("spin: all 3 workers done"), std::string::npos) << out;
}

TEST_P(GuestOsTest, BenchReportsSyscallAndSpawnCosts) {
    std::string out = m_session->run("bench 300", 30s);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(bench: syscall: 300 in ([0-9]+) ms = ([0-9]+) us each\n)"))) << out;
    ASSERT_TRUE(std::regex_search(out, std::regex(R"(bench: spawn\+wait: 30 in [0-9]+ ms = [0-9]+ us each\n)"))) << out;
    std::cout << "[ bench ] " << platform_name(GetParam()) << ": " << out;
}

TEST_P(GuestOsTest, LibsodiumRunsInRing3) {
    if (!fs::exists(build_dir() / "bin" / "sodium-test")) GTEST_SKIP() << "libsodium.a not installed";
    std::string out = m_session->run("sodium-test", 30s);
    if (out.find("sodium: no random source: no such system call") != std::string::npos)
        GTEST_SKIP() << "this engine's CPU has no RDSEED/RDRAND, so getrandom has no source: " << out;
    // BLAKE2b-256("popek-os"), computed independently with Python's hashlib.blake2b(digest_size=32).
    EXPECT_NE(out.find("blake2b(popek-os)=a37514e4315052b74e2b76dfc26cdf229a813ea962c1575d85f31d8ba1bec9dd\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("box: opened \"hello from ring 3\"\n"), std::string::npos) << out;
    EXPECT_NE(out.find("tampered box: rejected\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("exit status"), std::string::npos) << out;
}

TEST_P(GuestOsTest, SecureNetProtocolRunsInRing3) {
    if (!fs::exists(build_dir() / "bin" / "sodium-net-test")) GTEST_SKIP() << "libsodium.a not installed";
    std::string out = m_session->run("sodium-net-test", 30s);
    if (out.find("sodium: no random source: no such system call") != std::string::npos)
        GTEST_SKIP() << "this engine's CPU has no RDSEED/RDRAND, so getrandom has no source: " << out;
    // The same src/netsec sources as popek's, between two identities in one popek-os process.
    EXPECT_NE(out.find("handshake: ok\n"), std::string::npos) << out;
    EXPECT_NE(out.find("received \"hello from alice\"\nreceived \"hello from bob\"\n"), std::string::npos) << out;
    EXPECT_NE(out.find("tampered: dropped (bad-auth)\n"), std::string::npos) << out;
    EXPECT_NE(out.find("replayed: dropped (replay)\n"), std::string::npos) << out;
    EXPECT_NE(out.find("stranger: dropped (unknown-peer)\n"), std::string::npos) << out;
    EXPECT_NE(out.find("bob counters: messages 2 keepalives 1 bad-auth 1 replay 1 unknown-peer 1\n"), std::string::npos)
        << out;
    EXPECT_NE(out.find("channel: received \"through the channel\"\n"), std::string::npos) << out;
    EXPECT_NE(out.find("throughput: "), std::string::npos) << out;
    EXPECT_EQ(out.find("exit status"), std::string::npos) << out;
}

TEST_P(GuestOsTest, ExitPowersOffWithTheShellsStatus) {
    m_session->send("exit 7\n");
    EXPECT_EQ(m_session->finish(), 0) << m_session->output();
    EXPECT_NE(m_session->output().find("popek-os: init exited with status 7, powering off"), std::string::npos)
        << m_session->output();
}

// --- file tables given as the PVH boot module (popek run --initrd TABLE) ---

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
bool pack_table(const fs::path& out, const std::vector<std::string>& args) {
    std::string cmd = (build_dir() / "popek_os_mkfiletable").string() + " " + out.string();
    for (auto& a : args) cmd += " '" + a + "'";
    return std::system(cmd.c_str()) == 0;
}

std::string program(const char* name) { return "x:" + (build_dir() / "bin" / name).string() + "=/bin/" + name; }

class GuestOsModuleTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override { SKIP_UNLESS_ENGINE_USABLE(GetParam().accel); }
    ScratchDir m_dir;
};

TEST_P(GuestOsModuleTest, BootModuleReplacesTheBuiltInFilesAndPolicy) {
    std::string bob = policy_key("bob");
    auto policy = m_dir.file("policy", "user bob " + bob + "\nboot bob\nallow * exec /bin/*\nallow bob open /notes\n");
    auto notes = m_dir.file("notes", "from the boot module\n");
    auto table = m_dir.path() / "table";
    ASSERT_TRUE(pack_table(table, {program("sh"), program("whoami"), program("cat"), program("ls"),
                                   policy.string() + "=/etc/policy", notes.string() + "=/notes"}));
    auto s = ConsoleSession::start(GetParam(), {"--initrd", table.string()});
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_NE(s->output().find("popek-os: files: 6 from the boot module"), std::string::npos) << s->output();
    EXPECT_EQ(s->run("whoami"), "bob key=" + bob + "\n");
    EXPECT_EQ(s->run("cat /notes"), "from the boot module\n");
    EXPECT_EQ(s->run("echo hi"), "sh: echo: no such file\n") << "the built-in table is not used";
    std::string ls = s->run("ls");
    EXPECT_NE(ls.find("21 - /notes\n"), std::string::npos) << ls;
    EXPECT_EQ(ls.find("/etc/motd"), std::string::npos) << ls;
}

TEST_P(GuestOsModuleTest, MalformedBootModulesAreRefusedWithTheReason) {
    // A valid table, then the same table truncated, with a bad name, and plain garbage.
    auto table = m_dir.path() / "good";
    ASSERT_TRUE(pack_table(table, {program("sh"), m_dir.file("x", std::string(4000, 'x')).string() + "=/big"}));
    std::string good = read_text(table);
    struct Case { std::string name, bytes, reason; };
    std::vector<Case> cases = {
        {"garbage", "not a file table", "bad magic or version"},
        {"short", "POSFILES", "shorter than its header"},
        {"truncated", good.substr(0, good.size() - 100), "file extent past the end"},
        {"entries", good.substr(0, 40), "entry table past the end"},
    };
    std::string dotdot = good;
    size_t at = dotdot.find("/big");
    ASSERT_NE(at, std::string::npos);
    dotdot.replace(at, 4, "/../");
    cases.push_back({"dotdot", dotdot, "name is not a canonical absolute path"});
    for (const Case& c : cases) {
        auto s = ConsoleSession::start(GetParam(), {"--initrd", m_dir.file(c.name, c.bytes).string()});
        ASSERT_TRUE(s->wait_for("$ ", 30s)) << c.name << ": " << s->output();
        EXPECT_NE(s->output().find("boot module is not a file table (" + c.reason + "); using the built-in one"),
                  std::string::npos) << c.name << ": " << s->output();
        EXPECT_EQ(s->run("whoami").substr(0, 6), "alice ") << c.name;
    }
}

TEST_P(GuestOsModuleTest, BrokenPolicyStopsTheBootWithTheLine) {
    struct Case { std::string policy, message; };
    const Case cases[] = {
        {"user bob 1234\nboot bob\n", "/etc/policy line 1: public key must be 64 hex digits"},
        {"user bob " + policy_key("bob") + "\nallow carol open /x\n", "/etc/policy line 2: rule names an undeclared user"},
        {"# no boot line\nuser bob " + policy_key("bob") + "\n", "/etc/policy names no boot user"},
        {"user bob " + policy_key("bob") + "\nboot bob\nallow bob read /x\n", "line 3: action must be open, write, exec, connect, accept or any"},
    };
    for (const Case& c : cases) {
        auto table = m_dir.path() / "table";
        ASSERT_TRUE(pack_table(table, {program("sh"), m_dir.file("policy", c.policy).string() + "=/etc/policy"}));
        auto s = ConsoleSession::start(GetParam(), {"--initrd", table.string()});
        // A panic leaves through isa-debug-exit 0x7f (255), under Xen through SHUTDOWN_crash (4).
        EXPECT_EQ(s->finish(30s), GetParam().xen ? 4 : 255) << s->output();
        EXPECT_NE(s->output().find("popek-os: PANIC: "), std::string::npos) << s->output();
        EXPECT_NE(s->output().find(c.message), std::string::npos) << c.message << "\n" << s->output();
        EXPECT_EQ(s->output().find("$ "), std::string::npos) << "no shell without a valid policy";
    }
}

// --- the virtual disk under --xen (`--disk F` -> /dev/xvda through the blkif front end) ---

class GuestOsDiskTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override { SKIP_UNLESS_ENGINE_USABLE(GetParam().accel); }

    /// 40 KiB of numbered lines: more than one request of the front end (8 bounce pages, 32 KiB).
    static std::string disk_text() {
        std::string text;
        for (int i = 0; text.size() < 40 * 1024; ++i) text += "line " + std::to_string(i) + " of the disk\n";
        text.resize(40 * 1024);
        text.back() = '\n';   // the shell's prompt then starts a line of its own
        return text;
    }
    ScratchDir m_dir;
};

TEST_P(GuestOsDiskTest, CatReadsTheWholeDiskAndPutWritesIt) {
    const std::string text = disk_text();
    auto disk = m_dir.file("disk.img", text);
    auto s = ConsoleSession::start(GetParam(), {"--disk", disk.string()});
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_NE(s->output().find("popek-os: xen: xvda: 40960 bytes as /dev/xvda"), std::string::npos) << s->output();
    EXPECT_NE(s->run("ls /dev/").find("40960 - /dev/xvda\n"), std::string::npos);
    EXPECT_EQ(s->run("cat /dev/xvda", 60s), text);
    const std::string line = "written by popek-os\n";   // 20 bytes: a partial sector, read first
    EXPECT_EQ(s->run("put /dev/xvda written by popek-os"), "put: 20 bytes\n");
    EXPECT_EQ(s->run("cat /dev/xvda", 60s), line + text.substr(line.size()));
    s->send("exit\n");
    EXPECT_EQ(s->finish(), 0) << s->output();
    // On the host: the first 20 bytes are new, the rest of that sector and the disk unchanged.
    std::string after = read_text(disk);
    ASSERT_EQ(after.size(), text.size());
    EXPECT_EQ(after.substr(0, line.size()), line);
    EXPECT_EQ(after.substr(line.size()), text.substr(line.size()));
}

TEST_P(GuestOsDiskTest, ReadOnlyDiskRefusesWrites) {
    const std::string text = disk_text();
    auto disk = m_dir.file("ro.img", text);
    auto s = ConsoleSession::start(GetParam(), {"--disk", disk.string() + ",ro"});
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_NE(s->output().find("40960 bytes, read-only, as /dev/xvda"), std::string::npos) << s->output();
    EXPECT_EQ(s->run("put /dev/xvda nope"), "put: /dev/xvda: read-only file\nsh: put: exit status 1\n");
    EXPECT_EQ(s->run("cat /dev/xvda", 60s).substr(0, 100), text.substr(0, 100));
    s->send("exit\n");
    EXPECT_EQ(s->finish(), 0) << s->output();
    EXPECT_EQ(read_text(disk), text);
}

TEST_P(GuestOsDiskTest, WithoutADiskThereIsNoDevice) {
    auto s = ConsoleSession::start(GetParam());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_EQ(s->run("cat /dev/xvda"), "cat: /dev/xvda: no such file\nsh: cat: exit status 1\n");
}

// --- the network interface under --xen (`--net dgram=VM,PEER` -> vif0 through the netif front end) ---

class GuestOsNetTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override { SKIP_UNLESS_ENGINE_USABLE(GetParam().accel); }
    std::vector<std::string> net_args(const std::string& to = "peer.sock") const {
        return {"--net", "dgram=" + (m_dir.path() / "vm.sock").string() + "," + (m_dir.path() / to).string()};
    }
    /// `popek net-peer` as the host end: the test peer's identity (its public key is in the
    /// shipped policy), accepting alice's key, on the other end of the guest's datagram link.
    std::vector<std::string> peer_args(std::vector<std::string> extra, const std::string& to = "vm.sock") const {
        fs::path key = m_dir.path() / "host.key";
        if (!fs::exists(key)) {
            m_dir.file("host.key", std::string(kHostSecret) + "\n");
            fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
        }
        std::vector<std::string> args{"net-peer", "--key", key.string(), "--peer", policy_key("alice"), "--dgram",
                                      (m_dir.path() / "peer.sock").string() + "," + (m_dir.path() / to).string(),
                                      "--timeout", "30"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    /// The test peer's secret key; guest/files/etc/policy allows alice to connect to and accept
    /// its public key (kHostPublic), and no other peer.
    static constexpr const char* kHostSecret = "a9d38b7eb43c902fa7b43f70338246b164ee141ab0156a618eae8736ede9882b";
    static constexpr const char* kHostPublic = "095fde52bb9adf8ef57595bd6beb61491c0f0423ab84d85ff05bf7e017ca1373";
    ScratchDir m_dir;
};

TEST_P(GuestOsNetTest, VifConnectsWithTheMacFromTheStore) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    // popek's vif 0 publishes 00:16:3e:50:4b:00 (src/vmm/xen_platform.cpp); the front end reads it
    // from its `mac` node after the back end's InitWait and connects both rings.
    EXPECT_NE(s->output().find("popek-os: xen: vif0: connected, mac 00:16:3e:50:4b:00\n"), std::string::npos)
        << s->output();
    EXPECT_EQ(s->output().find("no network interface"), std::string::npos) << s->output();
    EXPECT_EQ(s->run("echo still here"), "still here\n");
    s->send("exit\n");
    EXPECT_EQ(s->finish(), 0) << s->output();
}

TEST_P(GuestOsNetTest, GuestSendReachesTheHostPeer) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_NE(s->output().find("popek-os: net: netd started"), std::string::npos) << s->output();
    auto peer = std::async(std::launch::async, [&] { return run_popek(peer_args({"--recv", "1"}), {}, 60s); });
    std::this_thread::sleep_for(300ms);   // the peer binds its socket
    EXPECT_EQ(s->run(std::string("send ") + kHostPublic + " hello from popek-os: 1+1=2 \\o/", 60s), "");
    RunResult r = peer.get();
    EXPECT_EQ(r.status, 0) << r.err;
    // net-peer prints the sender's key prefix and the exact message (its backslash escaped).
    EXPECT_EQ(r.out, policy_key("alice").substr(0, 16) + ": hello from popek-os: 1+1=2 \\x5co/\n") << r.err;
    EXPECT_NE(r.err.find("handshakes completed 1"), std::string::npos) << r.err;
}

TEST_P(GuestOsNetTest, HostPeerSendReachesGuestRecv) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    s->send(std::string("recv ") + kHostPublic + "\n");
    ASSERT_TRUE(s->wait_for(std::string("recv ") + kHostPublic + "\n", 10s)) << s->output();
    std::this_thread::sleep_for(500ms);   // netd opens the accept channel
    RunResult r = run_popek(peer_args({"--send", "from the host \x01 end"}), {}, 60s);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(s->wait_for("$ ", 60s)) << s->output();
    EXPECT_NE(s->output().find(std::string(kHostPublic).substr(0, 16) + ": from the host \\x01 end\n"),
              std::string::npos) << s->output();
}

TEST_P(GuestOsNetTest, PolicyDeniesConnectsAndAcceptsAndLogsThem) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    const std::string bob = policy_key("bob");
    EXPECT_EQ(s->run("send " + bob + " hi bob"),
              "denied: user=alice action=connect object=" + bob + " reason=no rule allows it (default deny)\n"
              "send: " + bob.substr(0, 16) + ": not allowed by the policy\nsh: send: exit status 1\n");
    EXPECT_EQ(s->run("recv " + bob),
              "denied: user=alice action=accept object=" + bob + " reason=no rule allows it (default deny)\n"
              "recv: " + bob.substr(0, 16) + ": not allowed by the policy\nsh: recv: exit status 1\n");
    // The users' secret keys are netd's alone.
    EXPECT_EQ(s->run("cat /etc/keys/alice"),
              "denied: user=alice action=open object=/etc/keys/alice reason=no rule allows it (default deny)\n"
              "cat: /etc/keys/alice: permission denied\nsh: cat: exit status 1\n");
    EXPECT_EQ(s->run("send nothex hi"), "usage: send KEY MESSAGE (KEY: 64 hex digits)\nsh: send: exit status 2\n");
}

TEST_P(GuestOsNetTest, TwoGuestsTalkOverCrossedLinks) {
    // Guest B boots a file table of its own: its user `peer` is the test peer's identity (which
    // guest A's policy lets alice connect to), and it accepts alice.
    const std::string alice = policy_key("alice");
    auto policy = m_dir.file("policy-b", std::string("user peer ") + kHostPublic + "\nuser system " + alice +
                                             "\nboot peer\nallow * exec /bin/*\nallow system open /etc/keys/*\n"
                                             "allow peer accept " + alice + "\n");
    auto key = m_dir.file("peer.key", std::string(kHostSecret) + "\n");
    auto table = m_dir.path() / "table-b";
    ASSERT_TRUE(pack_table(table, {program("sh"), program("recv"), program("netd"), policy.string() + "=/etc/policy",
                                   key.string() + "=/etc/keys/peer"}));
    const std::string a_sock = (m_dir.path() / "a.sock").string(), b_sock = (m_dir.path() / "b.sock").string();
    auto b = ConsoleSession::start(GetParam(), {"--initrd", table.string(), "--net", "dgram=" + b_sock + "," + a_sock});
    auto a = ConsoleSession::start(GetParam(), {"--net", "dgram=" + a_sock + "," + b_sock});
    ASSERT_TRUE(b->wait_for("$ ", 30s)) << b->output();
    ASSERT_TRUE(a->wait_for("$ ", 30s)) << a->output();
    b->send("recv " + alice + "\n");
    ASSERT_TRUE(b->wait_for("recv " + alice + "\n", 10s)) << b->output();
    std::this_thread::sleep_for(500ms);   // B's netd opens the accept channel
    EXPECT_EQ(a->run(std::string("send ") + kHostPublic + " guest to guest", 60s), "");
    bool b_done = b->wait_for("$ ", 60s);
    if (!b_done) a->wait_for("\x01(drain)", 2s);   // what A's netd logged meanwhile, for the message
    ASSERT_TRUE(b_done) << b->output() << "\n--- guest A:\n" << a->output();
    EXPECT_NE(b->output().find(alice.substr(0, 16) + ": guest to guest\n"), std::string::npos) << b->output();
}

TEST_P(GuestOsNetTest, TamperedReplayedAndForeignFramesAreDroppedByNetd) {
    // Host peer (side A) → guest (side B): the guest's netd gets the tampered, foreign and replayed frames.
    popek::test::HostileRelay relay((m_dir.path() / "relay-host.sock").string(), (m_dir.path() / "peer.sock").string(),
                                    (m_dir.path() / "relay-guest.sock").string(), (m_dir.path() / "vm.sock").string());
    auto s = ConsoleSession::start(GetParam(), net_args("relay-guest.sock"));
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    s->send(std::string("recv ") + kHostPublic + "\n");
    ASSERT_TRUE(s->wait_for(std::string("recv ") + kHostPublic + "\n", 10s)) << s->output();
    std::this_thread::sleep_for(500ms);
    RunResult r = run_popek(peer_args({"--send", "only once"}, "relay-host.sock"), {}, 60s);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(s->wait_for("$ ", 60s)) << s->output();
    const std::string line = std::string(kHostPublic).substr(0, 16) + ": only once\n";
    const std::string& out = s->output();
    ASSERT_NE(out.find(line), std::string::npos) << out;
    EXPECT_EQ(out.find(line, out.find(line) + 1), std::string::npos) << "delivered twice:\n" << out;
    // Two data packets reach the guest (the initiator's keepalive and the message), each once
    // tampered and once replayed, with a foreign frame each: netd counts every one.
    const std::string counts = "netd: dropped: malformed 0, bad-auth 2, replay 2, unknown-peer 0, no-session 0, unroutable 2\n";
    for (int i = 0; i < 100 && s->output().find(counts) == std::string::npos; ++i)
        s->wait_for("\x01(more output)", 100ms);   // reads what arrives meanwhile
    EXPECT_NE(s->output().find(counts), std::string::npos) << s->output();
}

// --- the host directory under --xen (`--share DIR` -> /share/... through the popekfs front end) ---

class GuestOsShareTest : public ::testing::TestWithParam<Platform> {
protected:
    void SetUp() override {
        SKIP_UNLESS_ENGINE_USABLE(GetParam().accel);
        m_share = m_dir.path() / "share";
        fs::create_directories(m_share / "out");
        std::ofstream(m_share / "hello.txt") << "hello from the host\n";
        std::ofstream(m_dir.path() / "secret.txt") << "outside the share\n";
        fs::create_symlink(m_dir.path() / "secret.txt", m_share / "escape");
    }
    ScratchDir m_dir;
    fs::path m_share;
};

TEST_P(GuestOsShareTest, LsCatAndPutReachTheHostDirectory) {
    auto s = ConsoleSession::start(GetParam(), {"--share", m_share.string()});
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_NE(s->output().find("popek-os: xen: share: host directory as /share (read-write)"), std::string::npos)
        << s->output();
    std::string ls = s->run("ls /share/");
    EXPECT_NE(ls.find("20 - /share/hello.txt\n"), std::string::npos) << ls;
    EXPECT_NE(ls.find("/share/out\n"), std::string::npos) << ls;
    EXPECT_EQ(s->run("cat /share/hello.txt"), "hello from the host\n");
    EXPECT_EQ(s->run("put /share/out/note.txt written by popek-os"), "put: 20 bytes\n");
    EXPECT_EQ(s->run("cat /share/out/note.txt"), "written by popek-os\n");
    // The policy lets alice write only below /share/out/: the kernel refuses (and logs) the rest
    // before anything reaches popek.
    std::string denied = s->run("put /share/hello.txt overwritten");
    EXPECT_NE(denied.find("denied: user=alice action=write object=/share/hello.txt"), std::string::npos) << denied;
    EXPECT_NE(denied.find("put: /share/hello.txt: permission denied"), std::string::npos) << denied;
    // A symlink out of DIR: the back end refuses it (openat2 RESOLVE_NO_SYMLINKS).
    std::string escape = s->run("cat /share/escape");
    EXPECT_NE(escape.find("cat: /share/escape: permission denied"), std::string::npos) << escape;
    EXPECT_EQ(escape.find("outside the share"), std::string::npos) << escape;
    EXPECT_NE(s->run("cat /share/missing.txt").find("no such file"), std::string::npos);
    s->send("exit\n");
    EXPECT_EQ(s->finish(), 0) << s->output();
    EXPECT_EQ(read_text(m_share / "out" / "note.txt"), "written by popek-os\n");
    EXPECT_EQ(read_text(m_share / "hello.txt"), "hello from the host\n");
    EXPECT_EQ(read_text(m_dir.path() / "secret.txt"), "outside the share\n");
}

TEST_P(GuestOsShareTest, ReadOnlyShareRefusesWrites) {
    auto s = ConsoleSession::start(GetParam(), {"--share", m_share.string() + ",ro"});
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_NE(s->output().find("as /share (read-only)"), std::string::npos) << s->output();
    EXPECT_EQ(s->run("cat /share/hello.txt"), "hello from the host\n");
    EXPECT_NE(s->run("put /share/out/note.txt nope").find("put: /share/out/note.txt: read-only file"), std::string::npos);
    s->send("exit\n");
    EXPECT_EQ(s->finish(), 0) << s->output();
    EXPECT_FALSE(fs::exists(m_share / "out" / "note.txt"));
}

TEST_P(GuestOsShareTest, WithoutAShareThereIsNoShare) {
    auto s = ConsoleSession::start(GetParam());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    EXPECT_EQ(s->run("cat /share/hello.txt"), "cat: /share/hello.txt: no such file\nsh: cat: exit status 1\n");
}

const auto kPlatforms = ::testing::Values(Platform{"kvm", false}, Platform{"interp", false}, Platform{"kvm", true},
                                          Platform{"interp", true});
const auto kXenPlatforms = ::testing::Values(Platform{"kvm", true}, Platform{"interp", true});
auto name_of = [](const auto& param_info) { return platform_name(param_info.param); };

INSTANTIATE_TEST_SUITE_P(Engines, GuestOsModuleTest, kPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsTest, kPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsDiskTest, kXenPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsNetTest, kXenPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsShareTest, kXenPlatforms, name_of);

}  // namespace
