// pv::ConsoleBackend and PvDomain's console path (the one XenPlatform ships with).
#include <gtest/gtest.h>

#include "pv/pv_domain.h"

using namespace popek;
using namespace popek::pv;

namespace {

struct ConsoleFixture : ::testing::Test {
    alignas(4096) uint8_t page[4096] = {};
    xencons_interface* in = reinterpret_cast<xencons_interface*>(page);
    std::string out;
    ConsoleBackend be{std::span(page, sizeof(page)), [this](std::string_view s) { out += s; }};

    void guest_write(std::string_view s) {
        for (char c : s) in->out[MASK_XENCONS_IDX(in->out_prod++, in->out)] = c;
    }
    std::string guest_read() {
        std::string r;
        while (in->in_cons != in->in_prod) r.push_back(in->in[MASK_XENCONS_IDX(in->in_cons++, in->in)]);
        return r;
    }
};

}  // namespace

TEST_F(ConsoleFixture, OutputReachesTheSinkAcrossTheWrap) {
    in->out_cons = in->out_prod = 0xFFFFFFF0u;
    std::string expect;
    for (int i = 0; i < 10; ++i) {
        std::string line = "line " + std::to_string(i) + std::string(300, 'x') + "\n";
        guest_write(line);
        expect += line;
        EXPECT_TRUE(be.service());
    }
    EXPECT_EQ(out, expect);
    EXPECT_FALSE(be.service());  // nothing new
}

TEST_F(ConsoleFixture, InputWaitsForRoom) {
    std::string big(3000, 'k');
    EXPECT_TRUE(be.push_input(big));
    EXPECT_EQ(guest_read().size(), 1024u);  // ring size
    EXPECT_TRUE(be.service());              // the guest made room: more goes in
    EXPECT_EQ(guest_read().size(), 1024u);
    be.service();
    EXPECT_EQ(guest_read().size(), 952u);
    // A flood beyond the pending limit is dropped, not buffered.
    EXPECT_TRUE(be.push_input(std::string(ConsoleBackend::kMaxPendingInput + 5000, 'z')));
    EXPECT_EQ(be.dropped_input(), 5000u);
}

TEST_F(ConsoleFixture, HostileIndicesShutTheConsole) {
    in->out_cons = 0;
    in->out_prod = 5000;  // more than out[] holds
    EXPECT_FALSE(be.service());
    EXPECT_TRUE(be.shut());
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(be.push_input("x"));
    ConsoleBackend tiny(std::span(page, 16), {});
    EXPECT_TRUE(tiny.shut());
}

TEST(PvConsole, DomainWiresTheRingToAnEventChannel) {
    auto mem = memory::GuestMemory::create(1 << 20).value();
    int upcalls = 0;
    PvDomain dom(mem, PvDomainConfig{}, [&](int) { ++upcalls; });
    std::string out;
    ASSERT_TRUE(dom.connect_console(0x30, [&](std::string_view s) { out += s; }));
    auto port = static_cast<evtchn_port_t>(dom.get_param(HVM_PARAM_CONSOLE_EVTCHN).value());
    EXPECT_EQ(dom.get_param(HVM_PARAM_CONSOLE_PFN).value(), 0x30u);
    auto* in = reinterpret_cast<xencons_interface*>(mem.host_ptr(0x30 << 12, 4096));
    for (char c : std::string_view("hi\n")) in->out[MASK_XENCONS_IDX(in->out_prod++, in->out)] = c;
    ASSERT_TRUE(dom.event_channels().send(port));
    EXPECT_EQ(out, "hi\n");
    EXPECT_TRUE(dom.event_channels().port_pending(port));  // popek notified back
    dom.console_input("ls\n");
    EXPECT_EQ(in->in_prod, 3u);
    EXPECT_EQ(dom.connect_console(1ull << 40, {}).error(), EINVAL);
}
