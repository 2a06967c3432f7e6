// A 32-bit PVH guest under --xen (tests/guests/xen32.pvh.S) on every engine: Xen's 32-bit
// hypercall ABI and compat structures, one copy of a line written to both consoles, and `cli; hlt`
// on the last vCPU ending the domain.
#include <gmock/gmock.h>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

class Xen32Test : public EngineTest {
protected:
    void SetUp() override { skip_on_pvm("xen32", "32-bit protected-mode code does not run on PVM"); }
};

TEST_P(Xen32Test, HypercallsUseThe32BitAbiAndCliHltEndsTheDomain) {
    for (const char* cpus : {"1", "2"}) {
        SCOPED_TRACE(std::string("--cpus ") + cpus);
        RUN_GUEST(r, "xen32", {"--xen", "--cpus", cpus});
        EXPECT_THAT(r.out, HasSubstr("xen32: hello through console_io\nxen32: console_io rc 00000000\n"));
        EXPECT_THAT(r.out, HasSubstr("xen32: console pfn 000000ff evtchn "));
        EXPECT_THAT(r.out, HasSubstr("xen32: add_to_physmap rc 00000000\n")) << "compat xen_add_to_physmap";
        EXPECT_THAT(r.out, HasSubstr("xen32: enosys ffffffda\n")) << "-ENOSYS in eax";
        EXPECT_EQ(count_lines(r.out, "xen32: both consoles"), 1u) << r.out;
        EXPECT_THAT(r.out, HasSubstr("xen32: cli; hlt\n"));
        EXPECT_EQ(r.status, 4) << r.err;
        EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
        EXPECT_THAT(r.err, HasSubstr("every vCPU halted with interrupts off (cli; hlt)"));
    }
}

INSTANTIATE_FOR_ENGINES(Xen32Test);

}  // namespace
}  // namespace popek::test
