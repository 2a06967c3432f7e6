/// The in-tree guests under --accel interp (the own engine needs no /dev/kvm, so these always run).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct RunResult {
    int status;
    std::string output;
};

RunResult run_interp(const std::string& args) {
    // Bounded: a guest that hangs fails the test (status 124 from timeout(1)) instead of stalling CI.
    std::string cmd = "timeout --kill-after=5 120 " + std::string(POPEK_BINARY) + " run --accel interp " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return {-1, "popen failed"};
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string guest(const char* name) { return std::string(POPEK_GUEST_DIR) + "/" + name + ".elf"; }

std::string temp_file(const std::string& bytes) {
    char tmpl[] = "/tmp/popek-interp-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd >= 0) ::close(fd);
    std::ofstream(tmpl, std::ios::binary) << bytes;
    return tmpl;
}

TEST(InterpBoot, DemoGuestRunsAndResets) {
    auto r = run_interp("--stats");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("cpu vendor: GenuineIntel"), std::string::npos) << r.output;
}

TEST(InterpBoot, PvhGuestStartsIn32BitProtectedMode) {
    std::string initrd = temp_file(std::string("\xab") + "hello");
    auto r = run_interp("--kernel " + guest("boot_info") + " --cmdline 'console=ttyS0 x=1' --initrd " + initrd);
    ::unlink(initrd.c_str());
    EXPECT_EQ(r.status, 0x11 * 2 + 1) << r.output;
    EXPECT_NE(r.output.find("pvh: magic ok version 01 memmap 04 modules 01 cs 08 cr0 11"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("pvh: module0 size 00000006 first ab"), std::string::npos) << r.output;
}

TEST(InterpBoot, OwnAbiOnThreeVcpus) {
    std::string initrd = temp_file("\x5c\x01\x02");
    auto r = run_interp("--kernel " + guest("boot_abi") + " --cpus 3 --cmdline 'own abi' --initrd " + initrd);
    ::unlink(initrd.c_str());
    EXPECT_EQ(r.status, 0x12 * 2 + 1) << r.output;
    EXPECT_NE(r.output.find("abi: vcpus ok 03 of 03 efer 00000501 cr4 00000620"), std::string::npos) << r.output;
}

}  // namespace
