// ExitDispatcher: hypercall results reach the guest in the width of the caller's ABI.
#include <gtest/gtest.h>

#include "vmm/exit_dispatcher.h"

namespace popek::vmm {
namespace {

TEST(ExitDispatcher, A32BitCallerGetsTheResultAsEaxZeroExtended) {
    bus::Bus pio, mmio;
    ExitDispatcher d(pio, mmio);
    d.set_hypercall_handler([](int, const hv::Hypercall&) { return static_cast<uint64_t>(-38); });
    uint64_t result = 0;
    EXPECT_TRUE(d.dispatch(0, hv::Hypercall{1, {}, &result}));
    EXPECT_EQ(result, static_cast<uint64_t>(-38));
    EXPECT_TRUE(d.dispatch(0, hv::Hypercall{1, {}, &result, true}));
    EXPECT_EQ(result, 0xffffffdau) << "-ENOSYS as a 32-bit value";
    EXPECT_EQ(d.counters().hypercalls.load(), 2u);
}

}  // namespace
}  // namespace popek::vmm
