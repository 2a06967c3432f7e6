/// The gdb stub's packet decoder (GDB manual E.1) and packet handlers (E.2, E.4) against the emu
/// test machine: registers, memory through the page tables, breakpoints, hostile input.
#include <gtest/gtest.h>

#include "emu_harness.h"
#include "gdb/gdb_session.h"
#include "gdb/registers.h"
#include "gdb/rsp_framing.h"

namespace popek::gdb {
namespace {

std::vector<RspEvent> decode_all(RspDecoder& d, std::string_view s) {
    std::vector<RspEvent> out;
    std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    while (!in.empty()) {
        size_t used = 0;
        auto ev = d.feed(in, used);
        in = in.subspan(used);
        if (ev) out.push_back(std::move(*ev));
    }
    return out;
}

TEST(GdbRsp, DecodesAPacketFedByteByByte) {
    RspDecoder d;
    std::vector<RspEvent> evs;
    for (char c : std::string("$g#67")) {
        auto got = decode_all(d, std::string_view(&c, 1));
        evs.insert(evs.end(), got.begin(), got.end());
    }
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].kind, RspEvent::Packet);
    EXPECT_EQ(evs[0].payload, "g");
}

TEST(GdbRsp, BadChecksumIsReportedAndTheNextPacketStillDecodes) {
    RspDecoder d;
    auto evs = decode_all(d, "$g#00garbage$?#3f");
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0].kind, RspEvent::BadChecksum);
    EXPECT_EQ(evs[1].kind, RspEvent::Packet);
    EXPECT_EQ(evs[1].payload, "?");
}

TEST(GdbRsp, NonHexChecksumResynchronises) {
    RspDecoder d;
    auto evs = decode_all(d, "$g#zz$?#3f");
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0].kind, RspEvent::BadChecksum);
    EXPECT_EQ(evs[1].payload, "?");
}

TEST(GdbRsp, EscapesRoundTrip) {
    const std::string payload = std::string("X1,4:") + '#' + '$' + '}' + '*';
    const std::string framed = rsp_frame(payload);
    EXPECT_EQ(framed.find('#'), framed.size() - 3) << "only the trailer's # is unescaped";
    RspDecoder d;
    auto evs = decode_all(d, framed);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].payload, payload);
}

TEST(GdbRsp, OversizedPacketIsDroppedNotStored) {
    RspDecoder d;
    std::string huge = "$" + std::string(kMaxPacket * 4, 'a') + "#00";
    auto evs = decode_all(d, huge + "$?#3f");
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0].kind, RspEvent::Oversized);
    EXPECT_EQ(evs[1].payload, "?");
}

TEST(GdbRsp, InterruptAndAcksOutsidePackets) {
    RspDecoder d;
    auto evs = decode_all(d, "+\x03-");
    ASSERT_EQ(evs.size(), 3u);
    EXPECT_EQ(evs[0].kind, RspEvent::Ack);
    EXPECT_EQ(evs[1].kind, RspEvent::Interrupt);
    EXPECT_EQ(evs[2].kind, RspEvent::Nack);
}

TEST(GdbRsp, HexHelpersRejectMalformedInput) {
    std::string out;
    EXPECT_FALSE(from_hex("abc", out));
    EXPECT_FALSE(from_hex("zz", out));
    EXPECT_TRUE(from_hex("4142", out));
    EXPECT_EQ(out, "AB");
    EXPECT_FALSE(parse_hex("11112222333344445"));   // more than 64 bits
    EXPECT_FALSE(parse_hex(""));
    EXPECT_EQ(parse_hex("ff"), 0xffu);
}

class GdbSessionTest : public ::testing::Test {
protected:
    void SetUp() override { h.setup_long_mode(); }
    std::string ask(const std::string& p) { return session.handle(p).value_or("<resumed>"); }
    emu::test::EmuHarness h;
    VcpuControl control{h.cpu().shared(), true};
    GdbSession session{control};
};

TEST_F(GdbSessionTest, RegistersInTheTargetDescriptionOrder) {
    h.cpu().gpr[hv::RBX] = 0x1122334455667788ULL;
    h.cpu().rip = 0xabcdef;
    const std::string g = ask("g");
    EXPECT_EQ(g.substr(16, 16), "8877665544332211") << "rbx is gdb's register 1";
    EXPECT_EQ(g.substr(16 * 16, 16), "efcdab0000000000") << "rip is register 16";
    size_t bytes = 0;
    for (int n = 0; n < register_count(); ++n) bytes += register_size(n);
    EXPECT_EQ(g.size(), bytes * 2);
    EXPECT_NE(target_xml().find("<architecture>i386:x86-64</architecture>"), std::string::npos);
    EXPECT_NE(target_xml().find("name=\"fs_base\""), std::string::npos);
}

TEST_F(GdbSessionTest, WritesAGprButNotASegmentSelector) {
    EXPECT_EQ(ask("P0=0100000000000000"), "OK");
    EXPECT_EQ(h.cpu().gpr[hv::RAX], 1u);
    EXPECT_EQ(ask("P12=23000000"), "E01") << "cs";
    EXPECT_EQ(ask(std::string("G") + ask("g")), "OK") << "writing back the same values";
}

TEST_F(GdbSessionTest, MemoryThroughThePageTables) {
    h.poke<uint32_t>(emu::test::kPtBase + 0x10, 0xdeadbeef);
    EXPECT_EQ(ask("m200010,4"), "efbeadde");
    h.set_pte(emu::test::kPtBase + 0x1000, 0);   // unmapped
    EXPECT_EQ(ask("m201000,4"), "E14");
    EXPECT_EQ(ask("m200ffe,4"), "0000") << "a read stops at the unmapped page";
    EXPECT_EQ(ask("M200010,2:3412"), "OK");
    EXPECT_EQ(h.read<uint16_t>(emu::test::kPtBase + 0x10), 0x1234);
    EXPECT_EQ(ask("M201000,1:00"), "E14");
    EXPECT_EQ(ask("m8000000000000000,4"), "E14") << "non-canonical";
    EXPECT_EQ(ask("mffffffffffffffff,ffffffffffffffff").size(), 3u) << "huge length: capped, never a crash";
}

TEST_F(GdbSessionTest, BreakpointsAndWatchpointsAreRecordedForTheEngine) {
    EXPECT_EQ(ask("Z0,100000,1"), "OK");
    EXPECT_EQ(ask("Z1,100010,1"), "OK");
    EXPECT_EQ(ask("Z2,200000,8"), "OK");
    EXPECT_EQ(ask("Z4,200000,0"), "E01") << "empty range";
    EXPECT_EQ(ask("Z3,ffffffffffffffff,10"), "E01") << "range wraps";
    EXPECT_EQ(ask("Z9,1,1"), "") << "unknown type: unsupported";
    EXPECT_EQ(control.host_debug().breakpoints.size(), 2u);
    EXPECT_EQ(control.host_debug().watches.size(), 1u);
    EXPECT_EQ(ask("z0,100000,1"), "OK");
    EXPECT_EQ(control.host_debug().breakpoints.size(), 1u);
}

TEST_F(GdbSessionTest, ThreadsAndQueries) {
    EXPECT_EQ(ask("qfThreadInfo"), "m1");
    EXPECT_EQ(ask("qsThreadInfo"), "l");
    EXPECT_EQ(ask("Hg1"), "OK");
    EXPECT_EQ(ask("Hg5"), "E01");
    EXPECT_EQ(ask("T1"), "OK");
    EXPECT_EQ(ask("T2"), "E01");
    EXPECT_NE(ask("qSupported:multiprocess+").find("PacketSize=4000"), std::string::npos);
    EXPECT_EQ(ask("qXfer:features:read:target.xml:0,10").substr(0, 1), "m");
    EXPECT_EQ(ask("qXfer:features:read:target.xml:fffff,10"), "l");
    EXPECT_EQ(ask("vCont?"), "vCont;c;C;s;S");
    EXPECT_EQ(ask("vCont;x"), "E01");
    EXPECT_EQ(ask("?"), "T05thread:1;");
    std::string out;
    ASSERT_TRUE(from_hex(ask("qRcmd," + to_hex(std::string_view("stats"))), out));
    EXPECT_NE(out.find("vCPU 0:"), std::string::npos);
    EXPECT_EQ(ask("qRcmd,zz"), "E01");
    EXPECT_EQ(ask("Jgarbage"), "") << "unknown packet: the empty reply";
}

}  // namespace
}  // namespace popek::gdb
