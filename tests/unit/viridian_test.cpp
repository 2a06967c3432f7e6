/// Viridian, the Hyper-V interface of a `--xen --viridian` guest (src/hv/xen/viridian.*): CPUID,
/// the MSRs, the reference TSC page (TLFS 12.7), a page outside RAM (XSA-472-1), and the own
/// engine showing it with Xen's leaves moved to 0x40000100 (interp and bt).
#include "emu_harness.h"
#include "hv/xen/viridian.h"
#include "hv/xen/xen_cpu_hooks.h"
#include "hv/xen/xen_personality.h"

#include <gtest/gtest.h>

#include <cstring>

namespace popek::emu::test {
namespace {

namespace msr = hv::xen::viridian_msr;
using hv::xen::Viridian;
using hv::xen::ViridianClock;

constexpr ViridianClock kAt1s{2'000'000'000, 2'000'000'000, 1'000'000'000};   // 2 GHz TSC, 1 s in

TEST(Viridian, CpuidSaysMicrosoftHvAndWhatIsOffered) {
    Viridian v(2);
    uint32_t out[4];
    EXPECT_FALSE(v.cpuid(0x40000100, out)) << "Xen's leaves, not Viridian's";
    ASSERT_TRUE(v.cpuid(0x40000000, out));
    EXPECT_EQ(out[0], 0x40000006u);
    char vendor[13] = {};
    std::memcpy(vendor, &out[1], 12);
    EXPECT_STREQ(vendor, "Microsoft Hv");
    ASSERT_TRUE(v.cpuid(0x40000001, out));
    EXPECT_EQ(std::memcmp(&out[0], "Hv#1", 4), 0);
    ASSERT_TRUE(v.cpuid(0x40000003, out));
    EXPECT_EQ(out[0], (1u << 1) | (1u << 5) | (1u << 6) | (1u << 9))
        << "reference counter, hypercall MSRs, VP index, reference TSC";
    EXPECT_EQ(out[1], 0u) << "no hypercall privileges";
    ASSERT_TRUE(v.cpuid(0x40000002, out));
    EXPECT_EQ(out[0], 0u) << "no version before the guest sets its OS id";
    auto mem = memory::GuestMemory::create(1 << 20).value();
    ASSERT_EQ(v.write_msr(mem, 0, msr::kGuestOsId, 0x1234, kAt1s), std::optional<bool>(true));
    ASSERT_TRUE(v.cpuid(0x40000002, out));
    EXPECT_EQ(out[1], 6u << 16);
}

TEST(Viridian, MsrsReadBackAndReadOnlyOnesAreGp) {
    Viridian v(2);
    auto mem = memory::GuestMemory::create(1 << 20).value();
    uint64_t value = 0;
    EXPECT_FALSE(v.read_msr(0, 0x10, kAt1s, value).has_value()) << "not Viridian's";
    EXPECT_EQ(v.write_msr(mem, 0, msr::kGuestOsId, 0x8100000000000000ull, kAt1s), std::optional<bool>(true));
    ASSERT_EQ(v.read_msr(1, msr::kGuestOsId, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, 0x8100000000000000ull) << "partition-wide";
    ASSERT_EQ(v.read_msr(1, msr::kVpIndex, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, 1u);
    ASSERT_EQ(v.read_msr(0, msr::kTimeRefCount, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, 10'000'000u) << "1 s in 100 ns units";
    EXPECT_EQ(v.write_msr(mem, 0, msr::kVpIndex, 5, kAt1s), std::optional<bool>(false)) << "read-only: #GP";
    EXPECT_EQ(v.write_msr(mem, 0, msr::kTimeRefCount, 5, kAt1s), std::optional<bool>(false));
    EXPECT_EQ(v.read_msr(0, 0x40000080, kAt1s, value), std::optional<bool>(false)) << "SynIC: not offered";
    // Synthetic timers hold what is written, per vCPU (XSA-472-2 writes them without a SynIC).
    EXPECT_EQ(v.write_msr(mem, 1, msr::kStimer0Config + 1, 1, kAt1s), std::optional<bool>(true));
    EXPECT_EQ(v.write_msr(mem, 1, msr::kStimer0Config, (1u << 16) | 1, kAt1s), std::optional<bool>(true));
    ASSERT_EQ(v.read_msr(1, msr::kStimer0Config, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, (1u << 16) | 1u);
    ASSERT_EQ(v.read_msr(0, msr::kStimer0Config, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, 0u);
}

TEST(Viridian, ReferenceTscPageGivesTheReferenceTime) {
    Viridian v(1);
    auto mem = memory::GuestMemory::create(1 << 20).value();
    constexpr uint64_t kPage = 0x7000;
    ASSERT_EQ(v.write_msr(mem, 0, msr::kReferenceTsc, kPage | 1, kAt1s), std::optional<bool>(true));
    auto p = mem.read_obj<hv::xen::HvReferenceTscPage>(kPage).value();
    EXPECT_NE(p.tsc_sequence, 0u);
    EXPECT_NE(p.tsc_sequence, 0xffffffffu);
    EXPECT_EQ(p.tsc_scale, Viridian::tsc_scale(2'000'000'000));
    // The guest's computation (TLFS 12.7.3.2) 0.5 s later gives 1.5 s, as TIME_REF_COUNT will.
    const ViridianClock later{2'000'000'000, 3'000'000'000, 1'500'000'000};
    const auto ref = static_cast<int64_t>((static_cast<unsigned __int128>(later.tsc) * p.tsc_scale) >> 64) + p.tsc_offset;
    EXPECT_NEAR(static_cast<double>(ref), 15'000'000.0, 2.0);
    uint64_t value = 0;
    ASSERT_EQ(v.read_msr(0, msr::kReferenceTsc, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, kPage | 1);
    const uint32_t first = p.tsc_sequence;
    ASSERT_EQ(v.write_msr(mem, 0, msr::kReferenceTsc, kPage | 1, kAt1s), std::optional<bool>(true));
    EXPECT_NE(mem.read_obj<hv::xen::HvReferenceTscPage>(kPage).value().tsc_sequence, first) << "a new sequence";
}

TEST(Viridian, AReferenceTscPageOutsideRamIsNotWrittenAndNothingFails) {
    Viridian v(1);
    auto mem = memory::GuestMemory::create(1 << 20).value();
    // XSA-472-1 writes ~0 (a 32-bit guest: 0xffffffff, reserved bits and a page past RAM).
    EXPECT_EQ(v.write_msr(mem, 0, msr::kReferenceTsc, 0xffffffffull, kAt1s), std::optional<bool>(true));
    EXPECT_EQ(v.write_msr(mem, 0, msr::kReferenceTsc, ~uint64_t{0}, kAt1s), std::optional<bool>(true));
    // The last page of RAM is fine; one straddling its end is not RAM.
    EXPECT_EQ(v.write_msr(mem, 0, msr::kReferenceTsc, ((1u << 20) - 0x1000) | 1, kAt1s), std::optional<bool>(true));
    EXPECT_NE(mem.read_obj<uint32_t>((1u << 20) - 0x1000).value(), 0u);
    uint64_t value = 0;
    ASSERT_EQ(v.read_msr(0, msr::kReferenceTsc, kAt1s, value), std::optional<bool>(true));
    EXPECT_EQ(value, ((1u << 20) - 0x1000) | 1u);
}

TEST(Viridian, HypercallPageAnswersInvalidHypercallCode) {
    Viridian v(1);
    auto mem = memory::GuestMemory::create(1 << 20).value();
    ASSERT_EQ(v.write_msr(mem, 0, msr::kHypercall, 0x9000 | 1, kAt1s), std::optional<bool>(true));
    EXPECT_EQ(mem.read_obj<uint8_t>(0x9000).value(), 0x31) << "xor %edx,%edx";
    EXPECT_EQ(mem.read_obj<uint32_t>(0x9003).value(), 2u) << "HV_STATUS_INVALID_HYPERCALL_CODE";
    EXPECT_EQ(v.write_msr(mem, 0, msr::kHypercall, 0xfffff000ull | 1, kAt1s), std::optional<bool>(true))
        << "outside RAM: not written, no failure";
}

class ViridianOnEngine : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_protected32();
        if (GetParam()) h.use_translator();
        hooks = hv::xen::make_viridian_engine_hooks(1);
        h.cpu().shared().hooks = hooks.get();
    }
    std::array<uint32_t, 4> cpuid(uint32_t leaf) {
        h.load_code({0x0f, 0xa2, 0xf4});   // cpuid; hlt
        h.cpu().gpr[hv::RAX] = leaf;
        h.cpu().gpr[hv::RCX] = 0;
        EXPECT_TRUE(is_halt(h.run()));
        auto& r = h.cpu().gpr;
        return {static_cast<uint32_t>(r[hv::RAX]), static_cast<uint32_t>(r[hv::RBX]), static_cast<uint32_t>(r[hv::RCX]),
                static_cast<uint32_t>(r[hv::RDX])};
    }
    EmuHarness h;
    std::unique_ptr<CpuHooks> hooks;
};

TEST_P(ViridianOnEngine, HyperVAt0x40000000AndXenMovedTo0x40000100) {
    EXPECT_EQ(cpuid(0x40000000)[1], 0x7263694du) << "Micr";
    auto xen = cpuid(0x40000100);
    EXPECT_EQ(xen[0], 0x40000104u);
    EXPECT_EQ(xen[1], 0x566e6558u) << "XenV";
    EXPECT_EQ(cpuid(0x40000102)[1], 0x40000200u) << "Xen's hypercall-page MSR moved";
}

TEST_P(ViridianOnEngine, XensMovedMsrAndAReferenceTscOutsideRamTakeNoFault) {
    // wrmsr 0x40000200 (Xen's hypercall page at 0x30000); wrmsr REFERENCE_TSC = ~0; rdmsr it; hlt
    h.load_code({0xb9, 0x00, 0x02, 0x00, 0x40, 0xb8, 0x00, 0x00, 0x03, 0x00, 0x31, 0xd2, 0x0f, 0x30,
                 0xb9, 0x21, 0x00, 0x00, 0x40, 0xb8, 0xff, 0xff, 0xff, 0xff, 0x31, 0xd2, 0x0f, 0x30,
                 0x31, 0xc0, 0x0f, 0x32, 0xf4});
    ASSERT_TRUE(is_halt(h.run())) << "no #GP";
    EXPECT_EQ(h.read<uint8_t>(0x30000), 0xb8) << "Xen's stubs at the moved MSR";
    EXPECT_EQ(static_cast<uint32_t>(h.cpu().gpr[hv::RAX]), 0xffffffffu);
}

INSTANTIATE_TEST_SUITE_P(Engines, ViridianOnEngine, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "bt" : "interp"; });

}  // namespace
}  // namespace popek::emu::test
