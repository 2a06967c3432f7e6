// What the public test suites' images need from popek, checked with an in-tree multiboot guest
// (tests/guests/multiboot.mb.S) on every engine: the multiboot information block, ACPI on that
// boot path, fw_cfg, and QEMU's pc-testdev behind --test-dev.
#include <gmock/gmock.h>

#include <fstream>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class SuiteDevicesTest : public EngineTest {
protected:
    void SetUp() override { skip_on_pvm("multiboot", "32-bit protected-mode code does not run on PVM"); }
};

/// A temporary file holding `text`, removed at the end of the test.
class TempText {
public:
    explicit TempText(const std::string& text) {
        char tmpl[] = "/tmp/popek-suite-test-XXXXXX";
        int fd = ::mkstemp(tmpl);
        m_path = tmpl;
        if (fd >= 0) {
            [[maybe_unused]] ssize_t n = ::write(fd, text.data(), text.size());
            ::close(fd);
        }
    }
    ~TempText() { ::unlink(m_path.c_str()); }
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

TEST_P(SuiteDevicesTest, MultibootKernelSeesItsInformationBlockFwCfgAndTheTestDevice) {
    TempText env("NR_CPUS=2\n");
    RUN_GUEST(r, "multiboot",
              {"--test-dev", "--cpus", "2", "--mem", "64", "--cmdline", "a b=c", "--initrd", env.path()});
    EXPECT_EQ(r.status, 0x11 * 2 + 1) << r.err << r.out;
    // flags: memory, cmdline, modules, memory map, boot loader name; 639 KiB below the EBDA,
    // 63 MiB from 1 MiB up.
    EXPECT_THAT(r.out, HasSubstr("mb: magic 2badb002 flags 0000024d lower 0000027f upper 0000fc00\n"));
    EXPECT_THAT(r.out, HasSubstr("mb: cmdline " + guest_elf("multiboot") + " a b=c\n"));
    EXPECT_THAT(r.out, HasSubstr("mb: module size 0000000a string " + env.path() + " first 4e\n"));
    EXPECT_THAT(r.out, HasSubstr("mb: mmap entries 04 ram 03f9fc00\n"));
    EXPECT_THAT(r.out, HasSubstr("acpi: rsdp 000e0000\n"));
    EXPECT_THAT(r.out, HasSubstr("fwcfg: QEMU id 00000001 cpus 00000002 max 00000002 ram 04000000 unknown 00000000\n"));
    EXPECT_THAT(r.out, HasSubstr("testdev: e0 1234ab78 e8 1234ab78 iomem cafef00d irr 20 ioapic 01\n"));
}

TEST_P(SuiteDevicesTest, WithoutTestDevTheQemuTestPortsAreAbsentButFwCfgIsThere) {
    RUN_GUEST(r, "multiboot", {"--mem", "32"});
    EXPECT_EQ(r.status, 0x11 * 2 + 1) << r.err << r.out;
    EXPECT_THAT(r.out, HasSubstr("mb: cmdline " + guest_elf("multiboot") + "\n"));
    EXPECT_THAT(r.out, Not(HasSubstr("mb: module")));
    EXPECT_THAT(r.out, HasSubstr("fwcfg: QEMU id 00000001 cpus 00000001 max 00000001 ram 02000000"));
    EXPECT_THAT(r.out, Not(HasSubstr("testdev:")));
}

/// kvm-unit-tests' s3: ACPI S3 entered through PM1a_CNT, woken by the RTC alarm (UIP-synchronized,
/// "every second"), resumed in real mode at the FACS waking vector with RAM kept, WAK_STS and
/// RTC_STS set (tests/guests/s3.mb.S; status 0x21 * 2 + 1, else 0x7X names the failed check).
TEST_P(SuiteDevicesTest, S3SleepsUntilTheRtcAlarmAndResumesAtTheFacsWakingVector) {
    RUN_GUEST(r, "s3", {"--mem", "32"});
    EXPECT_EQ(r.status, 0x21 * 2 + 1) << r.err << r.out;
    EXPECT_THAT(r.out, HasSubstr("s3: sleeping\n"));
}

INSTANTIATE_FOR_ENGINES(SuiteDevicesTest);

}  // namespace
}  // namespace popek::test
