// One test per popek-os system call (docs/guest-os.md "System calls", issue 7 item 8): the guest
// program /bin/systest (guest/user/systest.cpp, guest/user/systest/) makes the call's ordinary uses and its error cases
// and prints each raw result; these tests compare them with what the ABI promises, on every
// platform. The host-side facts (file contents and sizes, the policy's keys) are read here, not
// taken from the guest.
//
// Errors are Linux's numbers (abi.h): -2 ENOENT, -5 EIO, -8 ENOEXEC, -9 EBADF, -10 ECHILD,
// -13 EACCES, -14 EFAULT, -22 EINVAL, -24 EMFILE, -30 EROFS, -36 ENAMETOOLONG, -38 ENOSYS.
//
// netd's own calls (netd_frame_tx, netd_frame_rx, netd_next_request, netd_deliver: -EPERM for
// everybody else, logged) are checked by GuestOsTest.FrameCallsAreForNetdOnly, and their working
// path by GuestOsNetTest (guest_os_test.cpp).
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "guest_os_session.h"

namespace {

using namespace popek::test::guest_os;

const std::string kDenied = " reason=no rule allows it (default deny)\n";

class GuestOsSyscallTest : public BootedShellTest {
protected:
    std::string systest(const std::string& call) { return m_session->run("systest " + call); }

    /// The first number after `CALL: what=` in `out` (the test fails if there is none).
    static long value(const std::string& out, const std::string& key) {
        std::smatch m;
        if (!std::regex_search(out, m, std::regex("(^|\n)" + key + "=(-?[0-9]+)\n"))) {
            ADD_FAILURE() << "no `" << key << "=N` line in:\n" << out;
            return -1;
        }
        return std::stol(m[2]);
    }
};

TEST_P(GuestOsSyscallTest, Write) {
    EXPECT_EQ(systest("write"),
              "write: hello console\nwrite: stdout=21\n"
              "write: to stderr\nwrite: stderr=17\n"
              "write: empty=0\n"
              "write: kernel-buf=-14\nwrite: unmapped-buf=-14\nwrite: straddling-buf=-14\nwrite: huge-len=-14\n"
              "write: stdin=-9\nwrite: unopened=-9\nwrite: negative-fd=-9\nwrite: out-of-range-fd=-9\n"
              "write: read-only-fd=-9\nwrite: closed-fd=-9\n"
              "write: packed-file=-30\n");
}

TEST_P(GuestOsSyscallTest, Read) {
    const std::string motd = read_text(source_file("etc/motd"));
    ASSERT_GE(motd.size(), 8u);
    const size_t start = m_session->output().size();
    m_session->send("systest read\n");
    ASSERT_TRUE(m_session->wait_for("read: type a line\n")) << m_session->output().substr(start);
    m_session->send("abcdef\n");   // one line, read with a 4-byte buffer and then the rest
    ASSERT_TRUE(m_session->wait_for("\n$ ")) << m_session->output().substr(start);
    std::string out = m_session->output().substr(start);
    EXPECT_EQ(out,
              "systest read\n"
              "read: first=8 [" + motd.substr(0, 8) + "]\n"
              "read: total=" + std::to_string(motd.size()) + "\n"
              "read: at-end=0\nread: zero-len=0\n"
              "read: kernel-buf=-14\nread: read-only-buf=-14\nread: straddling-buf=-14\n"
              "read: closed=-9\nread: unopened=-9\nread: stdout=-9\nread: negative-fd=-9\n"
              "read: console-zero-len=0\nread: console-bad-buf=-14\n"
              "read: type a line\nabcdef\n"
              "read: console=4 [abcd]\nread: console-rest=3 [ef|]\n$ ");
}

TEST_P(GuestOsSyscallTest, Open) {
    const std::string motd = read_text(source_file("etc/motd"));
    EXPECT_EQ(systest("open"),
              "open: motd=3 read=16 [" + motd.substr(0, 16) + "]\n"
              "open: missing=-2\n"
              "denied: user=alice action=open object=/etc/secret" + kDenied + "open: denied=-13\n"
              "denied: user=alice action=open object=/etc/nothing" + kDenied + "open: denied-missing=-13\n"
              "denied: user=alice action=write object=/etc/motd" + kDenied + "open: write-denied=-13\n"
              "open: bad-flags=-22\nopen: not-canonical=-22\nopen: relative=-22\nopen: empty=-22\n"
              "open: longest=-2\nopen: too-long=-36\n"
              "open: kernel-ptr=-14\nopen: null=-14\nopen: unterminated=-14\n"
              "open: fds=3..18 then=-24\n"
              "open: reuses=5\n");
}

TEST_P(GuestOsSyscallTest, Close) {
    const std::string notes = read_text(source_file("home/alice/notes.txt"));
    ASSERT_FALSE(notes.empty());
    EXPECT_EQ(systest("close"),
              "close: opened=3,4\nclose: first=0\nclose: again=-9\nclose: read-closed=-9\n"
              "close: read-other=1\nclose: other-byte=" + notes.substr(0, 1) + "\n"
              "close: stdin=-9\nclose: stdout=-9\nclose: stderr=-9\n"
              "close: unopened=-9\nclose: past-table=-9\nclose: negative=-9\n"
              "close: reopen=3\n");
}

TEST_P(GuestOsSyscallTest, Spawn) {
    EXPECT_EQ(systest("spawn"),
              "spawned child\nspawn: echo-status=0\nspawn: echo-pid-above-mine=1\n"
              "child: argc=5 [argv0] [child-args] [two words] [] [last]\nspawn: args-status=0\n"
              "child: whoami=0 name=alice\nspawn: user-status=0\n"
              "spawn: missing=-2\nspawn: not-executable=-13\nspawn: not-elf=-8\n"
              "denied: user=alice action=exec object=/sbin/echo-admin" + kDenied + "spawn: denied=-13\n"
              "spawn: not-canonical=-22\nspawn: argc-zero=-22\n"
              "x x x x x x x x x x x x x x x\nspawn: argc-16=0\nspawn: argc-17=-22\n"
              "spawn: args-too-long=-22\n"
              "spawn: bad-path=-14\nspawn: bad-argv=-14\nspawn: bad-arg-string=-14\nspawn: straddling-argv=-14\n"
              "spawn: path-too-long=-36\n");
    EXPECT_EQ(m_session->run("ps").find("echo"), std::string::npos) << "every child was reaped";
}

TEST_P(GuestOsSyscallTest, Wait) {
    std::string out = systest("wait");
    std::smatch killed;
    EXPECT_TRUE(std::regex_search(out, killed, std::regex(R"(popek-os: killed pid [0-9]+ \(systest\): page fault at address 0x1000 \(not mapped, read\)[^\n]*\n)")))
        << out;
    EXPECT_EQ(std::regex_replace(out, std::regex(R"(popek-os: killed pid[^\n]*\n)"), ""),
              "wait: no-child=-10\nwait: shell=-10\nwait: self=-10\n"
              "wait: bad-status-ptr=-14\nwait: read-only-status=-14\n"
              "wait: child=reaped status=7\nwait: again=-10\n"
              "wait: any=both statuses=3\nwait: any-then=-10\n"
              "wait: null-status-is-pid=1\n"
              "wait: killed=142\n");
}

TEST_P(GuestOsSyscallTest, Exit) {
    // The status is the call's 32-bit int argument; exit never returns; main's result is exit's.
    EXPECT_EQ(systest("exit"),
              "exit: zero=0\nexit: 42=42\nexit: 255=255\nexit: minus-one=-1\nexit: wide=5\n"
              "exit: main-return=9\nexit: no-return=3\nexit: open-files=3\n");
    // The shell's own exit powers the machine off with its status (sh, then the kernel).
    m_session->send("exit 3\n");
    EXPECT_EQ(m_session->finish(), 0) << "popek exits 0 on a guest power-off:\n" << m_session->output();
    EXPECT_NE(m_session->output().find("init exited with status 3, powering off"), std::string::npos)
        << m_session->output();
}

TEST_P(GuestOsSyscallTest, Whoami) {
    const std::string key = policy_key("alice");
    ASSERT_EQ(key.size(), 64u);
    EXPECT_EQ(systest("whoami"),
              "whoami: ret=0 name=alice key=" + key + "\nwhoami: name-padded=1\n"
              "whoami: kernel-ptr=-14\nwhoami: null=-14\nwhoami: read-only=-14\nwhoami: straddling=-14\n"
              "child: whoami=0 name=alice\nwhoami: child-status=0\n");
}

TEST_P(GuestOsSyscallTest, Ps) {
    std::string out = systest("ps");
    const long self = value(out, "ps: getpid");
    // The shell (pid 1, no parent) and systest itself, running; no netd here. The shell is
    // waiting for systest (1), or still on its way there when systest runs first (0).
    EXPECT_TRUE(std::regex_search(out, std::regex("\nps: pid=1 parent=0 state=[01] user=alice name=sh\n"))) << out;
    out = std::regex_replace(out, std::regex("(pid=1 parent=0 state=)[01]"), "$1?");
    EXPECT_EQ(out,
              "ps: count=2\n"
              "ps: pid=1 parent=0 state=? user=alice name=sh\n"
              "ps: pid=" + std::to_string(self) + " parent=1 state=0 user=alice name=systest\n"
              "ps: getpid=" + std::to_string(self) + "\n"
              "ps: max-one=1\nps: max-zero=0\nps: max-negative=1\n"
              "ps: kernel-ptr=-14\nps: read-only=-14\nps: untouched-stack=1\nps: too-small=-14\n"
              "ps: napping-child=1\nps: napping-status=0\n"
              "ps: exited-child=2\nps: reaped-child=-1\n");
}

TEST_P(GuestOsSyscallTest, Yield) {
    EXPECT_EQ(systest("yield"), "yield: non-zero-results=0\nyield: child-finished=1\nyield: child-status=4\n");
}

TEST_P(GuestOsSyscallTest, Sleep) {
    auto t0 = Clock::now();
    std::string out = systest("sleep");
    auto host_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    const long elapsed = value(out, "sleep: elapsed");
    EXPECT_GE(elapsed, 200) << out;
    EXPECT_LT(elapsed, 1000) << out;
    EXPECT_GE(host_ms, 200) << "the host saw the sleep too";
    EXPECT_EQ(out, "sleep: ret=0\nsleep: elapsed=" + std::to_string(elapsed) +
                       "\nsleep: zero=0\n");
}

TEST_P(GuestOsSyscallTest, Seek) {
    const std::string motd = read_text(source_file("etc/motd"));
    ASSERT_GT(motd.size(), 3u);
    EXPECT_EQ(systest("seek"),
              "seek: to-3=0\nseek: bytes=" + motd.substr(0, 1) + motd.substr(3, 1) + "\n"
              "seek: to-0=0\nseek: again=" + motd.substr(0, 1) + "\n"
              "seek: past-end=0\nseek: read-past-end=0\nseek: huge=-22\n"
              "seek: stdin=-9\nseek: stdout=-9\nseek: unopened=-9\nseek: negative=-9\nseek: closed=-9\n");
}

TEST_P(GuestOsSyscallTest, Listdir) {
    std::string out = systest("listdir");
    std::map<std::string, std::string> listed;   // name -> "SIZE x|-"
    std::regex entry(R"(listdir: (/[^ \n]+) ([^\n]+)\n)");
    for (std::sregex_iterator it(out.begin(), out.end(), entry), end; it != end; ++it) listed[(*it)[1]] = (*it)[2];
    std::map<std::string, std::string> expected;
    for (auto& f : fs::recursive_directory_iterator(source_file("")))
        if (f.is_regular_file())
            expected["/" + fs::relative(f.path(), source_file("")).string()] = std::to_string(f.file_size()) + " -";
    for (auto& f : fs::directory_iterator(build_dir() / "bin"))
        expected["/bin/" + f.path().filename().string()] = std::to_string(f.file_size()) + " x";
    expected["/sbin/echo-admin"] = std::to_string(fs::file_size(build_dir() / "bin" / "echo")) + " x";
    expected["/bin/not-an-elf"] = std::to_string(fs::file_size(source_file("etc/motd"))) + " x";
    EXPECT_EQ(listed, expected) << out;
    EXPECT_EQ(value(out, "listdir: end"), static_cast<long>(listed.size()));
    EXPECT_NE(out.find("listdir: past-end=0\nlistdir: huge-index=0\nlistdir: negative-index=0\n"
                       "listdir: kernel-ptr=-14\nlistdir: read-only=-14\nlistdir: straddling=-14\n"),
              std::string::npos) << out;
}

TEST_P(GuestOsSyscallTest, Getpid) {
    std::string out = systest("getpid");
    const long self = value(out, "getpid: self"), spawned = value(out, "getpid: spawned");
    EXPECT_GT(self, 1) << "the shell is pid 1";
    EXPECT_GT(spawned, self);
    // The child's own getpid is what spawn returned; SYSCALL kept every register but rcx and r11.
    EXPECT_EQ(out, "getpid: self=" + std::to_string(self) + "\ngetpid: stable=1\nchild: getpid=" +
                       std::to_string(spawned) + "\ngetpid: spawned=" + std::to_string(spawned) +
                       "\ngetpid: clobbered-registers=0\n");
}

TEST_P(GuestOsSyscallTest, Uptime) {
    const size_t start = m_session->output().size();
    m_session->send("systest uptime\n");
    ASSERT_TRUE(m_session->wait_for("uptime: start=")) << m_session->output().substr(start);
    auto t0 = Clock::now();
    ASSERT_TRUE(m_session->wait_for("uptime: end=")) << m_session->output().substr(start);
    auto host_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    ASSERT_TRUE(m_session->wait_for("\n$ "));
    std::string out = m_session->output().substr(start);
    EXPECT_NE(out.find("uptime: non-negative=1\nuptime: backwards=0\n"), std::string::npos) << out;
    const long guest_ms = value(out, "uptime: end") - value(out, "uptime: start");
    // A 500 ms sleep between the two readings; the guest's clock runs neither fast nor slow.
    EXPECT_GE(guest_ms, 500) << out;
    EXPECT_LE(guest_ms, host_ms + 250) << out;
    EXPECT_LE(host_ms, guest_ms + 2000) << out;
}

TEST_P(GuestOsSyscallTest, Getrandom) {
    EXPECT_EQ(systest("getrandom"),
              "getrandom: 32=32\ngetrandom: again=32\ngetrandom: differ=1\ngetrandom: zero-len=0\n"
              "getrandom: clamped=4096\ngetrandom: distinct-bytes-above-200=1\n"
              "getrandom: kernel-ptr=-14\ngetrandom: null=-14\ngetrandom: read-only=-14\ngetrandom: straddling=-14\n");
}

TEST_P(GuestOsSyscallTest, NetOpen) {
    // No --net here, so no netd: an allowed channel gets -EIO, after the argument and policy checks.
    EXPECT_EQ(systest("net_open"),
              "net_open: bad-mode=-22\nnet_open: both-modes=-22\nnet_open: connect-any=-22\n"
              "net_open: kernel-key=-14\nnet_open: straddling-key=-14\n"
              "denied: user=alice action=connect object=" + std::string(64, '0') + kDenied +
              "net_open: denied-connect=-13\n"
              "denied: user=alice action=accept object=" + std::string(64, '0') + kDenied +
              "net_open: denied-accept=-13\n"
              "net_open: allowed-connect=-5\nnet_open: allowed-accept=-5\nnet_open: allowed-accept-any=-5\n"
              "net_open: no-free-fd=-24\n");
}

TEST_P(GuestOsSyscallTest, UnknownNumbersGiveEnosys) {
    EXPECT_EQ(systest("nosys"),
              "nosys: 64=-38\nnosys: 999=-38\nnosys: minus-one=-38\nnosys: getpid-with-high-bits=-38\n");
    EXPECT_EQ(systest("nonsense"), "systest: unknown call nonsense\nsh: systest: exit status 2\n");
}

INSTANTIATE_TEST_SUITE_P(Engines, GuestOsSyscallTest, kPlatforms, name_of);

}  // namespace
