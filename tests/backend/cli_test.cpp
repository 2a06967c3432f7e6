// CLI tests: help and version, and every user error is one line on stderr, exit status 2,
// nothing on stdout, before any VM is created.
#include <gmock/gmock.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

void expect_user_error(const RunResult& r, std::string_view reason) {
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_THAT(r.out, IsEmpty());
    EXPECT_EQ(count_lines(r.err, ""), 1u) << "stderr: " << r.err;
    EXPECT_THAT(r.err, StartsWith("popek: "));
    EXPECT_THAT(r.err, HasSubstr(std::string(reason)));
}

TEST(Cli, HelpListsTheRunCommand) {
    auto r = run_popek({"--help"});
    EXPECT_EQ(r.status, 0);
    EXPECT_THAT(r.out, HasSubstr("run"));
    EXPECT_THAT(r.err, IsEmpty());
    auto run_help = run_popek({"run", "--help"});
    EXPECT_EQ(run_help.status, 0);
    for (const char* option : {"--kernel", "--initrd", "--cmdline", "--mem", "--cpus", "--accel", "--test-dev"})
        EXPECT_THAT(run_help.out, HasSubstr(option));
}

TEST(Cli, VersionPrintsNameAndVersion) {
    auto r = run_popek({"--version"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, std::string("popek ") + POPEK_VERSION + "\n");
    EXPECT_THAT(r.err, IsEmpty());
}

TEST(Cli, MissingKernelFile) {
    expect_user_error(run_popek({"run", "--kernel", "/nonexistent/kernel.elf"}), "/nonexistent/kernel.elf");
}

TEST(Cli, KernelThatIsNotAnElf) {
    std::string path = ::testing::TempDir() + "popek_cli_not_an_elf";
    std::ofstream(path) << "this is plain text, not a kernel image\n";
    auto r = run_popek({"run", "--kernel", path});
    std::remove(path.c_str());
    if (auto why = engine_unusable(r)) GTEST_SKIP() << "the loader runs after the engine opens: " << *why;
    expect_user_error(r, "kernel");
}

TEST(Cli, KernelOrInitrdThatIsNotARegularFile) {
    // A directory aborted popek (an uncaught exception), a FIFO with no writer blocked it forever,
    // and /dev/zero grew until the host ran out of memory (issue 19): each is one line, status 2.
    expect_user_error(run_popek({"run", "--kernel", "/tmp"}), "is a directory");
    expect_user_error(run_popek({"run", "--kernel", "/dev/zero"}), "not a regular file");
    char fifo[] = "/tmp/popek-cli-fifo-XXXXXX";
    ASSERT_NE(mkdtemp(fifo), nullptr);
    const std::string path = std::string(fifo) + "/k";
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    expect_user_error(run_popek({"run", "--kernel", path}), "not a regular file");
    expect_user_error(run_popek({"run", "--kernel", POPEK_GUEST_DIR "/hello.elf", "--initrd", "/tmp"}), "initrd");
    std::remove(path.c_str());
    rmdir(fifo);
}

TEST(Cli, EmptyKernelAndInitrdLargerThanGuestRam) {
    char dir[] = "/tmp/popek-cli-size-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string empty = std::string(dir) + "/empty", big = std::string(dir) + "/big";
    std::ofstream(empty).close();
    expect_user_error(run_popek({"run", "--kernel", empty}), "is empty");
    // A sparse 2 GiB initrd with 64 MiB of RAM is refused by its size, before it is read.
    ASSERT_EQ(truncate(big.c_str(), 0), -1);   // does not exist yet
    std::ofstream(big).close();
    ASSERT_EQ(truncate(big.c_str(), off_t{2} << 30), 0);
    expect_user_error(run_popek({"run", "--mem", "64", "--kernel", POPEK_GUEST_DIR "/hello.elf", "--initrd", big}),
                      "more than fits");
    std::remove(empty.c_str());
    std::remove(big.c_str());
    rmdir(dir);
}

TEST(Cli, BackendWithDescriptorsThatAreNotItsSocketAndDisk) {
    // `popek backend` with a non-socket --socket-fd ended silently with status 0, and its other
    // descriptor errors with status 1 (issue 19): each is one line, status 2. run_popek's child
    // has only 0-2 open, each a pipe.
    auto backend_error = [](const RunResult& r, std::string_view reason) {
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_EQ(count_lines(r.err, ""), 1u) << "stderr: " << r.err;
        EXPECT_THAT(r.err, StartsWith("popek backend: "));
        EXPECT_THAT(r.err, HasSubstr(std::string(reason)));
    };
    backend_error(run_popek({"backend", "--socket-fd", "0", "--disk-fd", "98"}), "--socket-fd 0 is not a SOCK_SEQPACKET");
    backend_error(run_popek({"backend", "--socket-fd", "99", "--disk-fd", "98"}), "--socket-fd 99 is not");
    backend_error(run_popek({"backend", "--socket-fd", "-1", "--disk-fd", "0"}), "must be open descriptors");
    backend_error(run_popek({"backend", "--socket-fd", "0", "--disk-fd", "0"}), "the same descriptor");
    expect_user_error(run_popek({"backend", "--socket-fd", "3"}), "--disk-fd is required");
}

TEST(Cli, MemoryLargerThanTheHost) { expect_user_error(run_popek({"run", "--mem", "16000000"}), "--mem"); }

TEST(Cli, CpusOutOfRange) {
    expect_user_error(run_popek({"run", "--cpus", "0"}), "--cpus");
    expect_user_error(run_popek({"run", "--cpus", "1000"}), "--cpus");
}

TEST(Cli, UnknownAccelerator) { expect_user_error(run_popek({"run", "--accel", "qemu"}), "--accel"); }

TEST(Cli, UnknownOption) { expect_user_error(run_popek({"run", "--no-such-option"}), "--no-such-option"); }

}  // namespace
}  // namespace popek::test
