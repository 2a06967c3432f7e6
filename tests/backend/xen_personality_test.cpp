// The Xen personality end to end (popek run --xen): CPUID leaves, the hypercall-page MSR, the
// stubs' exit to popek, and the PV hypercall dispatcher answering, on every engine.
#include <gmock/gmock.h>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class XenPersonalityTest : public EngineTest {};

TEST_P(XenPersonalityTest, HypercallPageReachesTheDispatcher) {
    RUN_GUEST(r, "xen_hypercall", {"--xen"});
    EXPECT_THAT(r.out, HasSubstr("xen-major                    got=0x0004 want=0x0004 PASS"));
    EXPECT_THAT(r.out, HasSubstr("unknown                      got=0xffffffffffffffda"));
    EXPECT_THAT(r.out, HasSubstr("failures: 0"));
    EXPECT_EQ(r.status, 1) << r.err;
}

TEST_P(XenPersonalityTest, WithoutXenThereIsNoSignatureAndTheMsrFaults) {
    // Without --xen the leaves are the engine's own and the MSR write is refused (#GP): the guest
    // has no IDT, so that ends the VM as a triple fault, never as a hypercall.
    RUN_GUEST(r, "xen_hypercall");
    EXPECT_THAT(r.out, Not(HasSubstr("sig-ebx                      got=0x566e6558")));
    EXPECT_THAT(r.out, Not(HasSubstr("xen-major")));
    if (std::string_view(GetParam()) != "kvm") {   // the own engine's #GP -> #DF -> triple fault
        // main.cpp decides on ExitCause::TripleFault (not on the reason string): a reset, status 0.
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_THAT(r.err, HasSubstr("popek: guest triple-faulted (treated as a reset)"));
    }
}

INSTANTIATE_FOR_ENGINES(XenPersonalityTest);

}  // namespace
}  // namespace popek::test
