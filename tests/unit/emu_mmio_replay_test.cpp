/// Instructions that make several device accesses (kvm-unit-tests emulator: `repe cmps` with both
/// operands in pc-testdev's iomem; an access crossing two MMIO pages; PUSH/ENTER/CALL with the
/// stack in MMIO). Every access reaches the VMM exactly once, in program order, and the
/// instruction completes with the VMM's data (hv seam: an I/O exit is completed by the next
/// run()). Interp and bt alike.
#include <map>

#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

/// Linear pages mapped to device memory outside RAM; kDevB is not adjacent to kDevA's gpa.
constexpr uint64_t kLinA = kPtBase + 0x10000, kLinB = kPtBase + 0x11000;
constexpr uint64_t kDevA = 0xd0000000, kDevB = 0xd0005000;

struct Access {
    bool write;
    uint64_t gpa;
    std::vector<uint8_t> data;
    bool operator==(const Access&) const = default;
};

/// A RAM-like device (pc-testdev's iomem) recording every access it sees.
struct Device {
    std::map<uint64_t, uint8_t> bytes;
    std::vector<Access> seen;
    void fill(uint64_t gpa, const std::vector<uint8_t>& v) {
        for (size_t k = 0; k < v.size(); ++k) bytes[gpa + k] = v[k];
    }
    uint64_t value(uint64_t gpa, unsigned size) {
        uint64_t v = 0;
        for (unsigned k = 0; k < size; ++k) v |= uint64_t{bytes[gpa + k]} << (8 * k);
        return v;
    }
};

std::vector<uint8_t> le(uint64_t v, unsigned size) {
    std::vector<uint8_t> out(size);
    for (unsigned k = 0; k < size; ++k) out[k] = static_cast<uint8_t>(v >> (8 * k));
    return out;
}

class EmuMmioReplay : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
        h.set_pte(kLinA, kDevA | 3);
        h.set_pte(kLinB, kDevB | 3);
    }
    /// Runs the snippet to its HLT, serving MMIO exits from `dev`; false after too many exits
    /// (an instruction replayed forever) or another exit.
    bool run(const std::function<void(G&)>& emit, int max_exits = 200) {
        h.load_code(assemble_with_hlt(emit));
        for (int k = 0; k < max_exits; ++k) {
            auto e = h.run();
            if (auto* rd = std::get_if<hv::MmioRead>(&e)) {
                for (size_t b = 0; b < rd->data.size(); ++b) rd->data[b] = dev.bytes[rd->gpa + b];
                dev.seen.push_back({false, rd->gpa, {rd->data.begin(), rd->data.end()}});
            } else if (auto* wr = std::get_if<hv::MmioWrite>(&e)) {
                dev.seen.push_back({true, wr->gpa, {wr->data.begin(), wr->data.end()}});
                dev.fill(wr->gpa, dev.seen.back().data);
            } else if (auto* in = std::get_if<hv::PioIn>(&e)) {
                for (size_t b = 0; b < in->data.size(); ++b) in->data[b] = static_cast<uint8_t>(0x40 + ++port_reads);
                dev.seen.push_back({false, in->port, {in->data.begin(), in->data.end()}});
            } else {
                EXPECT_TRUE(is_halt(e)) << "exit index " << e.index();
                EXPECT_FALSE(h.reported()) << "exception at rip " << std::hex << h.reported_rip();
                return is_halt(e);
            }
            h.cpu().complete_io();
        }
        ADD_FAILURE() << "more than " << max_exits << " exits";
        return false;
    }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    EmuHarness h;
    Device dev;
    int port_reads = 0;
};

TEST_P(EmuMmioReplay, RepeCmpsWithBothOperandsInMmio) {
    dev.fill(kDevA, {'a', 'b', 'c', 'x'});
    dev.fill(kDevA + 0x100, {'a', 'b', 'c', 'y'});
    ASSERT_TRUE(run([](G& g) {
        g.mov(rsi, kLinA);
        g.mov(rdi, kLinA + 0x100);
        g.mov(ecx, 8);
        g.repe();
        g.cmpsb();
    }));
    EXPECT_EQ(r(hv::RCX), 4u);   // stopped at the 4th byte, which differs
    EXPECT_EQ(r(hv::RSI), kLinA + 4);
    EXPECT_EQ(r(hv::RDI), kLinA + 0x104);
    EXPECT_FALSE(h.cpu().rflags & kZf);
    EXPECT_TRUE(h.cpu().rflags & kCf);   // 'x' < 'y'
    std::vector<Access> expect;
    for (uint64_t k = 0; k < 4; ++k) {
        expect.push_back({false, kDevA + k, {static_cast<uint8_t>("abcx"[k])}});
        expect.push_back({false, kDevA + 0x100 + k, {static_cast<uint8_t>("abcy"[k])}});
    }
    EXPECT_EQ(dev.seen, expect);
}

TEST_P(EmuMmioReplay, CmpsqWithBothOperandsInMmio) {
    dev.fill(kDevA, le(0x1122334455667788, 8));
    dev.fill(kDevB, le(0x1122334455667788, 8));
    ASSERT_TRUE(run([](G& g) {
        g.mov(rsi, kLinA);
        g.mov(rdi, kLinB);
        g.cmpsq();
    }));
    EXPECT_TRUE(h.cpu().rflags & kZf);
    EXPECT_EQ(dev.seen, (std::vector<Access>{{false, kDevA, le(0x1122334455667788, 8)},
                                             {false, kDevB, le(0x1122334455667788, 8)}}));
}

TEST_P(EmuMmioReplay, ReadAndWriteCrossingTwoMmioPages) {
    dev.fill(kDevA + 0xffc, {1, 2, 3, 4});
    dev.fill(kDevB, {5, 6, 7, 8});
    ASSERT_TRUE(run([](G& g) {
        g.mov(rdi, kLinA + 0xffc);
        g.mov(rax, ptr[rdi]);
        g.mov(rbx, 0x1111222233334444);
        g.mov(ptr[rdi], rbx);
    }));
    EXPECT_EQ(r(hv::RAX), 0x0807060504030201u);
    EXPECT_EQ(dev.seen, (std::vector<Access>{{false, kDevA + 0xffc, {1, 2, 3, 4}},
                                             {false, kDevB, {5, 6, 7, 8}},
                                             {true, kDevA + 0xffc, {0x44, 0x44, 0x33, 0x33}},
                                             {true, kDevB, {0x22, 0x22, 0x11, 0x11}}}));
}

TEST_P(EmuMmioReplay, PushOfMmioOntoAStackInMmioAndPop) {
    dev.fill(kDevA, le(0xfeedface, 8));
    ASSERT_TRUE(run([](G& g) {
        g.mov(rdx, rsp);
        g.mov(rsp, kLinB + 0x100);
        g.mov(rsi, kLinA);
        g.push(qword[rsi]);   // read A, write B
        g.pop(rax);
        g.mov(rsp, rdx);
    }));
    EXPECT_EQ(r(hv::RAX), 0xfeedfaceu);
    EXPECT_EQ(dev.seen, (std::vector<Access>{{false, kDevA, le(0xfeedface, 8)},
                                             {true, kDevB + 0xf8, le(0xfeedface, 8)},
                                             {false, kDevB + 0xf8, le(0xfeedface, 8)}}));
}

TEST_P(EmuMmioReplay, EnterWithNestingLevelOnAStackInMmio) {
    // ENTER 0x10, 3: push rbp; copy 2 frame pointers from the old frame; push the new frame.
    dev.fill(kDevB + 0x1f8, le(0x1111, 8));
    dev.fill(kDevB + 0x1f0, le(0x2222, 8));
    ASSERT_TRUE(run([](G& g) {
        g.mov(rdx, rsp);
        g.mov(rbp, kLinB + 0x200);
        g.mov(rsp, kLinB + 0x100);
        g.enter(0x10, 3);
        g.mov(rbx, rsp);
        g.mov(rcx, rbp);
        g.mov(rsp, rdx);
    }));
    EXPECT_EQ(r(hv::RCX), kLinB + 0xf8);
    EXPECT_EQ(r(hv::RBX), kLinB + 0xe0 - 0x10);
    EXPECT_EQ(dev.seen, (std::vector<Access>{{true, kDevB + 0xf8, le(kLinB + 0x200, 8)},
                                             {false, kDevB + 0x1f8, le(0x1111, 8)},
                                             {true, kDevB + 0xf0, le(0x1111, 8)},
                                             {false, kDevB + 0x1f0, le(0x2222, 8)},
                                             {true, kDevB + 0xe8, le(0x2222, 8)},
                                             {true, kDevB + 0xe0, le(kLinB + 0xf8, 8)}}));
}

TEST_P(EmuMmioReplay, CallThroughMmioWithTheStackInMmio) {
    Xbyak::Label target, done;
    ASSERT_TRUE(run([&](G& g) {
        g.mov(rdx, rsp);
        g.mov(rsp, kLinB + 0x100);
        g.lea(rax, ptr[rip + target]);
        g.mov(rsi, kLinA + 8);
        g.mov(qword[rsi], rax);   // write A+8
        g.call(qword[rsi]);       // read A+8, write B+0xf8
        g.jmp(done);
        g.L(target);
        g.mov(rbx, qword[rsp]);         // read B+0xf8
        g.add(rsp, 8);
        g.L(done);
        g.mov(rsp, rdx);
    }));
    ASSERT_EQ(dev.seen.size(), 4u);
    EXPECT_EQ(dev.seen[1].gpa, kDevA + 8);
    EXPECT_FALSE(dev.seen[1].write);
    EXPECT_EQ(dev.seen[2].gpa, kDevB + 0xf8);
    EXPECT_TRUE(dev.seen[2].write);
    EXPECT_EQ(r(hv::RBX), dev.value(kDevB + 0xf8, 8));
}

TEST_P(EmuMmioReplay, RepMovsFromMmioToMmio) {
    dev.fill(kDevA, {1, 2, 3});
    ASSERT_TRUE(run([](G& g) {
        g.mov(rsi, kLinA);
        g.mov(rdi, kLinB);
        g.mov(ecx, 3);
        g.rep();
        g.movsb();
    }));
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(dev.seen, (std::vector<Access>{{false, kDevA, {1}}, {true, kDevB, {1}},
                                             {false, kDevA + 1, {2}}, {true, kDevB + 1, {2}},
                                             {false, kDevA + 2, {3}}, {true, kDevB + 2, {3}}}));
}

TEST_P(EmuMmioReplay, RepInsIntoMmio) {
    ASSERT_TRUE(run([](G& g) {
        g.mov(rdi, kLinA);
        g.mov(edx, 0x1234);
        g.mov(ecx, 2);
        g.rep();
        g.db(0x6c);   // insb
    }));
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(dev.seen, (std::vector<Access>{{false, 0x1234, {0x41}}, {true, kDevA, {0x41}},
                                             {false, 0x1234, {0x42}}, {true, kDevA + 1, {0x42}}}));
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuMmioReplay, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
