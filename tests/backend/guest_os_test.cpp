// popek-os (guest/, docs/guest-os.md) booted by the popek binary and driven through its console:
// the shell's commands, the authorization policy's denials, programs that fault, hostile system
// call arguments, sleep and preemption. Every test runs on every engine, once on the PC devices
// (COM1, LAPIC timer) and once under `--xen` on the PV devices (xencons, VIRQ_TIMER, blkif); an
// engine this host or build cannot run is skipped with the reason.
//
// The console session, the platforms and the host-side helpers are in guest_os_session.h (shared
// with guest_os_syscall_test.cpp).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <atomic>
#include <future>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hv/hypervisor.h"
#include "guest_os_session.h"
#include "popek_process.h"
#include "hostile_relay.h"
#include "test_peer_key.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using popek::test::run_popek;
using popek::test::RunResult;
using namespace popek::test::guest_os;

class GuestOsTest : public BootedShellTest {};

TEST_P(GuestOsTest, BootsToThePromptWithTheBootLog) {
    const std::string& out = m_session->output();
    EXPECT_NE(out.find("popek-os: policy: 4 users"), std::string::npos) << out;
    EXPECT_NE(out.find("boot user alice"), std::string::npos) << out;
    EXPECT_NE(out.find("popek-os: files: "), std::string::npos) << out;
    std::cout << "[ boot ] " << platform_name(GetParam()) << ": prompt after " << m_boot.count() << " ms\n";
}

TEST_P(GuestOsTest, BootLogNamesTheCpusStarted) {
    const std::string& out = m_session->output();
    if (GetParam().cpus == 1) {   // one vCPU: the one-CPU boot, without a word about SMP
        EXPECT_EQ(out.find("popek-os: smp:"), std::string::npos) << out;
        EXPECT_EQ(out.find("popek-os: cpu 1"), std::string::npos) << out;
    } else {
        for (int cpu = 1; cpu < GetParam().cpus; ++cpu)
            EXPECT_NE(out.find("popek-os: cpu " + std::to_string(cpu) + " up"), std::string::npos) << out;
        std::string all = std::to_string(GetParam().cpus);
        EXPECT_NE(out.find("popek-os: smp: " + all + " of " + all + " cpus running\n"), std::string::npos) << out;
    }
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
    // The CPU column: the CPU each process last ran on.
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +1 +0 alice +(sleep|run) +[0-9]+ sh\n)"))) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +[0-9]+ +1 alice +run +[0-9]+ ps\n)"))) << out;
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

// --- several vCPUs (`--cpus 2`; docs/guest-os.md "SMP") ---

class GuestOsSmpTest : public GuestOsTest {};

/// The CPUs named in lines like "... on cpus 0,1" / "... ran on cpus 1".
std::set<int> cpus_named(const std::string& out) {
    std::set<int> cpus;
    static const std::regex line(R"(on cpus ([0-9,]+))");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
        std::string list = (*it)[1];
        for (size_t at = 0; at < list.size();) {
            size_t comma = list.find(',', at);
            cpus.insert(std::stoi(list.substr(at, comma - at)));
            at = comma == std::string::npos ? list.size() : comma + 1;
        }
    }
    return cpus;
}

TEST_P(GuestOsSmpTest, BootLogShowsEveryCpuUp) {
    const std::string& out = m_session->output();
    EXPECT_NE(out.find("popek-os: cpu 1 up (apic 1)\n"), std::string::npos) << out;
    EXPECT_NE(out.find("popek-os: smp: 2 of 2 cpus running\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("did not answer"), std::string::npos) << out;
    std::string mem = m_session->run("mem");
    EXPECT_TRUE(std::regex_search(
        mem, std::regex(R"(^mem: [0-9]+ frames free of [0-9]+ \([0-9]+ KiB free\), cpus 2, [0-9]+ wake-up IPIs\n$)")))
        << mem;
}

TEST_P(GuestOsSmpTest, ACpuThatDoesNotAnswerIsNamedAndTheBootGoesOn) {
    // Three vCPUs; the kernel is told to send nothing to APIC 1 (smp.silent=1), so vCPU 1 never
    // starts: the boot waits for it, says so, starts vCPU 2 and runs on two CPUs.
    Platform three = GetParam();
    three.cpus = 3;
    auto s = ConsoleSession::start(three, {"--cmdline", "smp.silent=1"});
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->wait_for("$ ", 60s)) << s->output();
    const std::string& out = s->output();
    EXPECT_NE(out.find("popek-os: cpu 1 (apic 1) did not answer (no start-up); going on without it\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("popek-os: cpu 2 up (apic 2)\n"), std::string::npos) << out;
    EXPECT_NE(out.find("popek-os: smp: 2 of 3 cpus running\n"), std::string::npos) << out;
    std::string spin = s->run("spin 4", 60s);
    EXPECT_NE(spin.find("spin: all 4 workers done"), std::string::npos) << spin;
    EXPECT_EQ(cpus_named(spin), (std::set<int>{0, 2})) << spin;
}

TEST_P(GuestOsSmpTest, BusyWorkersRunOnBothCpus) {
    // Four workers that never block, 300 ms each: the idle CPU is kicked when they are spawned
    // and takes its share; each worker names the CPUs it was found on.
    std::string out = m_session->run("spin 4", 60s);
    for (int i = 0; i < 4; ++i)
        EXPECT_TRUE(std::regex_search(out, std::regex("spin worker " + std::to_string(i) + " done on cpus [0-9,]+\n")))
            << out;
    EXPECT_NE(out.find("spin: all 4 workers done"), std::string::npos) << out;
    EXPECT_EQ(cpus_named(out), (std::set<int>{0, 1})) << out;
    // The idle CPU got its work through a kick (LAPIC IPI, or the Xen IPI event channel).
    std::smatch m;
    std::string mem = m_session->run("mem");
    ASSERT_TRUE(std::regex_search(mem, m, std::regex(R"(, ([0-9]+) wake-up IPIs)"))) << mem;
    EXPECT_GT(std::stol(m[1]), 0) << mem;
}

TEST_P(GuestOsSmpTest, PsShowsTheCpuEachProcessRanOn) {
    std::string out = m_session->run("ps");
    EXPECT_NE(out.find("  PID  PPID USER     STATE  CPU NAME\n"), std::string::npos) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +1 +0 alice +(sleep|run) +[01] sh\n)"))) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +[0-9]+ +1 alice +run +[01] ps\n)"))) << out;
}

/// The free-frame count `mem` reports.
long frames_free(const std::string& mem_output) {
    std::smatch m;
    if (!std::regex_search(mem_output, m, std::regex(R"(mem: ([0-9]+) frames free)"))) return -1;
    return std::stol(m[1]);
}

TEST_P(GuestOsSmpTest, SpawnExitChurnAcrossCpusGivesEveryFrameBack) {
    // A first round grows the kernel's caches (heap pages, the kernel-stack cache) to what four
    // live children need; after that, 200 more spawn/exit cycles on both CPUs must give every
    // frame back. A leak of even one frame per process would show as 200.
    std::string warm = m_session->run("churn 200", 120s);
    EXPECT_NE(warm.find("churn: 200 children exited, 0 failed"), std::string::npos) << warm;
    long before = frames_free(m_session->run("mem"));
    ASSERT_GT(before, 0);
    std::string out = m_session->run("churn 200", 120s);
    EXPECT_NE(out.find("churn: 200 children exited, 0 failed, ran on cpus 0,1\n"), std::string::npos) << out;
    long after = frames_free(m_session->run("mem"));
    EXPECT_LE(before - after, 8) << "frames free before " << before << ", after " << after;
    EXPECT_GE(before - after, -8) << "frames free before " << before << ", after " << after;
    EXPECT_EQ(m_session->run("echo still alive"), "still alive\n");
    std::cout << "[ churn ] " << platform_name(GetParam()) << ": frames free " << before << " -> " << after << "\n";
}

// --- file tables given as the PVH boot module (popek run --initrd TABLE) ---


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
    std::vector<std::string> peer_args(std::vector<std::string> extra, const std::string& to = "vm.sock",
                                       const std::string& key_name = "host.key", const char* secret = kHostSecret) const {
        fs::path key = m_dir.path() / key_name;
        if (!fs::exists(key)) {
            m_dir.file(key_name, std::string(secret) + "\n");
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
    static constexpr const char* kHostSecret = popek::test::kTestPeerSecret;
    static constexpr const char* kHostPublic = popek::test::kTestPeerPublic;
    ScratchDir m_dir;
};

TEST(GuestOsDemo, TheDocumentedHostPeerKeyIsTheOneThePolicyAllows) {
    // docs/guest-os.md "A first session" has users talk to the guest with guest/demo/host-peer.key.
    std::string secret = read_text(fs::path(POPEK_OS_SOURCE_DIR) / "demo" / "host-peer.key");
    EXPECT_EQ(secret, std::string(popek::test::kTestPeerSecret) + "\n");
    ScratchDir dir;
    fs::path key = dir.file("host.key", secret);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
    RunResult r = run_popek({"net-peer", "--key", key.string(), "--public"}, {}, 30s);
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string pub = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(pub, popek::test::kTestPeerPublic);
    std::string policy = read_text(source_file("etc/policy"));
    EXPECT_NE(policy.find("allow alice connect " + pub + "\n"), std::string::npos);
    EXPECT_NE(policy.find("allow alice accept " + pub + "\n"), std::string::npos);
}

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
    // tampered and once replayed, with a foreign frame each: netd counts every one. A replayed
    // copy that arrives after `recv` got its message and closed the channel finds no session any
    // more (closing removes the peer), so it is counted as unroutable instead of replay: the two
    // counters together are always 4, and at least the keepalive's replay is seen as one.
    const std::regex counts_re(R"(netd: dropped: malformed 0, bad-auth 2, replay ([0-9]+), unknown-peer 0, no-session 0, unroutable ([0-9]+)\n)");
    auto late_replays_add_up = [](const std::smatch& m) {
        int replay = std::stoi(m[1].str()), unroutable = std::stoi(m[2].str());
        return replay >= 1 && replay + unroutable == 4;
    };
    std::smatch m;
    for (int i = 0; i < 100; ++i) {
        std::string now = s->output();
        bool done = false;
        for (auto it = std::sregex_iterator(now.begin(), now.end(), counts_re); it != std::sregex_iterator(); ++it)
            if (late_replays_add_up(*it)) done = true;
        if (done) break;
        s->wait_for("\x01(more output)", 100ms);   // reads what arrives meanwhile
    }
    // The same counters through the net_stats system call: one message delivered, the tampered
    // and replayed copies and the foreign frames dropped, nothing else.
    std::string stats = s->run("netstat");
    EXPECT_NE(stats.find("messages: delivered 1, received 1 (+1 keepalive)"), std::string::npos) << stats;
    EXPECT_NE(stats.find("handshakes: completed 1 (started 0)"), std::string::npos) << stats;
    ASSERT_TRUE(std::regex_search(stats, m, std::regex(R"(dropped: malformed 0, bad-auth 2, replay ([0-9]+), unknown-peer 0, no-session 0, unroutable ([0-9]+), undeliverable 0, refused-by-policy 0\n)")))
        << stats;
    EXPECT_TRUE(late_replays_add_up(m)) << stats;
    std::string log = s->output();
    std::smatch last;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), counts_re); it != std::sregex_iterator(); ++it) last = *it;
    ASSERT_FALSE(last.empty()) << log;
    EXPECT_EQ(last[1].str(), m[1].str()) << "netd's log and net_stats disagree:\n" << log;
    EXPECT_EQ(last[2].str(), m[2].str()) << log;
}

TEST_P(GuestOsNetTest, NetStatsReportsAndRefusesBadArguments) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    std::string stats = s->run("netstat");
    EXPECT_TRUE(std::regex_search(stats, std::regex("^netd: running, [0-9]+ request calls\n"))) << stats;
    EXPECT_NE(stats.find("dropped: malformed 0, bad-auth 0, replay 0, unknown-peer 0, no-session 0, unroutable 0, "
                         "undeliverable 0, refused-by-policy 0\n"), std::string::npos) << stats;
    // Publishing is netd's alone (refused and logged); bad flags and buffers get errors.
    EXPECT_EQ(s->run("fault netstats"),
              "fault: netstats\n"
              "denied: user=alice action=net_stats_publish object=fault reason=reserved for netd\n"
              "net_stats: badflags=-22 kernelbuf=-14 unmapped=-14 publish=-1 ok=0\n");
    // The refused publish changed nothing.
    EXPECT_NE(s->run("netstat").find("dropped: malformed 0, bad-auth 0,"), std::string::npos);
    // Without a network interface there are no counters.
    auto plain = ConsoleSession::start(GetParam());
    ASSERT_TRUE(plain->wait_for("$ ", 30s)) << plain->output();
    EXPECT_EQ(plain->run("netstat"), "netstat: no network interface\nsh: netstat: exit status 1\n");
}

TEST_P(GuestOsNetTest, IdleNetdSleepsUntilARequestOrFrame) {
    // netd blocks in the kernel while idle: over a second of an idle guest it asks for requests
    // a handful of times at most (polling every 10 ms would be about 100), and still wakes for
    // a frame: a host peer's message reaches recv.
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    auto calls = [&] {
        std::smatch m;
        std::string out = s->run("netstat");
        return std::regex_search(out, m, std::regex("netd: running, ([0-9]+) request calls")) ? std::stol(m[1]) : -1L;
    };
    long before = calls();
    ASSERT_GE(before, 0);
    EXPECT_NE(s->run("sleep 1000").find("slept"), std::string::npos);
    long after = calls();
    EXPECT_LE(after - before, 3) << before << " -> " << after;
    s->send(std::string("recv ") + kHostPublic + "\n");
    ASSERT_TRUE(s->wait_for(std::string("recv ") + kHostPublic + "\n", 10s)) << s->output();
    std::this_thread::sleep_for(500ms);
    RunResult r = run_popek(peer_args({"--send", "wake up"}), {}, 60s);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(s->wait_for(std::string(kHostPublic).substr(0, 16) + ": wake up\n$ ", 60s)) << s->output();
    EXPECT_GT(calls(), after);
}

TEST_P(GuestOsNetTest, NetbenchStreamArrivesIntactAtTheHost) {
    // 256 KiB guest -> host over one channel: 188 messages (187 of 1400 bytes and one of 352),
    // windowed by the host's acknowledgements. net-peer checks every byte of every message
    // against the pattern and counts gaps in the sequence numbers.
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    auto peer = std::async(std::launch::async, [&] { return run_popek(peer_args({"--recv-bytes", "262144"}), {}, 180s); });
    std::this_thread::sleep_for(300ms);   // the peer binds its socket
    std::string out = s->run(std::string("netbench ") + kHostPublic + " 262144", 180s);
    EXPECT_TRUE(std::regex_match(out, std::regex("netbench: 262144 bytes in 188 messages, [0-9]+ ms, [0-9]+ KB/s\n"))) << out;
    RunResult r = peer.get();
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("stream: 262144 of 262144 bytes verified in 188 messages, lost 0, bad 0;"), std::string::npos)
        << r.err;
    EXPECT_EQ(s->run("netbench " + std::string(kHostPublic) + " 0"), "usage: netbench KEY BYTES (KEY: 64 hex digits)\nsh: netbench: exit status 2\n");
}

TEST_P(GuestOsNetTest, RecvWithoutAKeyTakesAMessageFromAnAllowedPeer) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    s->send("recv\n");
    ASSERT_TRUE(s->wait_for("recv\n", 10s)) << s->output();
    std::this_thread::sleep_for(500ms);   // netd opens an accept channel per known identity
    RunResult r = run_popek(peer_args({"--send", "to whoever listens"}), {}, 60s);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(s->wait_for("$ ", 60s)) << s->output();
    EXPECT_NE(s->output().find(std::string(kHostPublic).substr(0, 16) + ": to whoever listens\n"), std::string::npos)
        << s->output();
}

TEST_P(GuestOsNetTest, RecvWithoutAKeyRefusesPeersThePolicyDoesNotAllowAndUnknownKeys) {
    auto s = ConsoleSession::start(GetParam(), net_args());
    ASSERT_TRUE(s->wait_for("$ ", 30s)) << s->output();
    s->send("recv\n");
    ASSERT_TRUE(s->wait_for("recv\n", 10s)) << s->output();
    std::this_thread::sleep_for(500ms);
    // A known identity (/etc/keys/known) that no rule lets reach alice: the handshake completes,
    // the message is refused by the kernel's policy check and logged, recv keeps waiting.
    const std::string visitor = popek::test::kVisitorPublic;
    RunResult v = run_popek(peer_args({"--send", "let me in"}, "vm.sock", "visitor.key", popek::test::kVisitorSecret), {}, 60s);
    EXPECT_EQ(v.status, 0) << v.err;
    ASSERT_TRUE(s->wait_for("denied: user=alice action=accept object=" + visitor + " reason=no rule allows it (default deny)\n", 30s))
        << s->output();
    ASSERT_TRUE(s->wait_for("message from " + visitor.substr(0, 16) + " refused by the policy\n", 30s)) << s->output();
    // An identity netd does not know: its Hellos are dropped (unknown-peer), no handshake.
    m_dir.file("stranger.key", "5f2c0e3cd0b4f3a0a4a0a2b1c9d8e7f6a5b4c3d2e1f00112233445566778899a\n");
    fs::permissions(m_dir.path() / "stranger.key", fs::perms::owner_read | fs::perms::owner_write);
    auto stranger = peer_args({"--send", "who am i"}, "vm.sock", "stranger.key", "");
    *(std::find(stranger.begin(), stranger.end(), "--timeout") + 1) = "2";   // it will not get a handshake
    RunResult u = run_popek(stranger, {}, 60s);
    EXPECT_EQ(u.status, 1) << u.err;
    EXPECT_NE(u.err.find("no handshake"), std::string::npos) << u.err;
    ASSERT_TRUE(s->wait_for("unknown-peer ", 10s)) << s->output();
    EXPECT_EQ(s->output().find("let me in"), std::string::npos) << s->output();
    EXPECT_EQ(s->output().find("who am i\n"), std::string::npos) << s->output();
    // The allowed peer still gets through to the same recv.
    RunResult r = run_popek(peer_args({"--send", "allowed"}), {}, 60s);
    EXPECT_EQ(r.status, 0) << r.err;
    ASSERT_TRUE(s->wait_for(std::string(kHostPublic).substr(0, 16) + ": allowed\n", 60s)) << s->output();
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

const auto kSmpPlatforms = ::testing::Values(Platform{"kvm", false, 2}, Platform{"interp", false, 2},
                                             Platform{"kvm", true, 2}, Platform{"interp", true, 2});
// The whole shell suite again on two vCPUs where it is cheap (the interpreter).
const auto kSmpInterpPlatforms = ::testing::Values(Platform{"interp", false, 2}, Platform{"interp", true, 2});

INSTANTIATE_TEST_SUITE_P(Engines, GuestOsModuleTest, kPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsTest, kPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Smp, GuestOsTest, kSmpInterpPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsSmpTest, kSmpPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsDiskTest, kXenPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsNetTest, kXenPlatforms, name_of);
INSTANTIATE_TEST_SUITE_P(Engines, GuestOsShareTest, kXenPlatforms, name_of);

}  // namespace
