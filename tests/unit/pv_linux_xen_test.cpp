// What Linux as a Xen PVH guest needs beyond popek's own PV guests: per-vCPU upcall vectors
// (HVMOP_set_evtchn_upcall_vector), grant frames placed outside RAM (XENMEM_add_to_physmap into
// unpopulated address space, served by vmm::XenPhysmap), and the pvclock fields.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "pv/hypercalls.h"
#include "pv/pvclock.h"
#include "vmm/xen_physmap.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr uint64_t kArg = 0x8000;
constexpr uint64_t kRamBytes = 1 << 20;
constexpr uint64_t kOutsidePfn = 0x107fff;   // where Linux put its grant frame on popek

struct LinuxXenFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(kRamBytes).value();
    PvDomain dom{mem, PvDomainConfig{.domid = 1, .name = "t", .vcpus = 2, .memory_bytes = kRamBytes, .store_quota = {}},
                 [](int) {}};
    std::vector<std::pair<uint64_t, std::span<uint8_t>>> mapped;
    bool accept_map = true;
    HypercallHooks hooks() {
        HypercallHooks h;
        h.map_outside_ram = [this](uint64_t gpfn, std::span<uint8_t> page) {
            mapped.emplace_back(gpfn, page);
            return accept_map;
        };
        return h;
    }
    Hypercalls hc{dom, {}, hooks()};

    int64_t call(Hypercalls& h, uint64_t nr, uint64_t a0, uint64_t a1, int vcpu = 0) {
        uint64_t result = 0;
        hv::Hypercall c{nr, {a0, a1, 0, 0, 0}, &result};
        return static_cast<int64_t>(h.handle(vcpu, c));
    }
    int64_t call(uint64_t nr, uint64_t a0, uint64_t a1, int vcpu = 0) { return call(hc, nr, a0, a1, vcpu); }
    template <class T>
    void put(uint64_t gpa, const T& v) { ASSERT_TRUE(mem.write_obj(gpa, v)); }
    int64_t add_grant_frame(Hypercalls& h, uint64_t idx, uint64_t gpfn) {
        put(kArg, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_grant_table, idx, gpfn});
        return call(h, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg);
    }
};

TEST_F(LinuxXenFixture, PerVcpuUpcallVectorTakesPrecedenceOverTheCallbackVector) {
    xen_hvm_param_t p{DOMID_SELF, 0, HVM_PARAM_CALLBACK_IRQ, (uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | 0xF3};
    put(kArg, p);
    ASSERT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), 0);
    EXPECT_EQ(dom.upcall_vector(1), 0xF3);
    put(kArg, xen_hvm_evtchn_upcall_vector_t{1, 0xE5});
    ASSERT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, kArg), 0);
    EXPECT_EQ(dom.upcall_vector(1), 0xE5);
    EXPECT_EQ(dom.upcall_vector(0), 0xF3);   // vCPU 0 still uses the domain's vector
    // Linux then sets a GSI callback "to trick the toolstack": accepted, and it changes nothing.
    p.value = 1;
    put(kArg, p);
    ASSERT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), 0);
    EXPECT_EQ(dom.upcall_vector(1), 0xE5);
    EXPECT_EQ(dom.upcall_vector(0), std::nullopt);
}

TEST_F(LinuxXenFixture, BadUpcallVectorsAreRefused) {
    put(kArg, xen_hvm_evtchn_upcall_vector_t{0, 0x0E});   // an exception vector
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, kArg), -EINVAL);
    put(kArg, xen_hvm_evtchn_upcall_vector_t{2, 0xF3});   // no vCPU 2
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, kArg), -ENOENT);
    put(kArg, xen_hvm_evtchn_upcall_vector_t{~0u, 0xF3});
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, kArg), -ENOENT);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, 1ull << 40), -EFAULT);
    EXPECT_EQ(dom.upcall_vector(0), std::nullopt);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_pagetable_dying, kArg), -ENOSYS);
}

TEST_F(LinuxXenFixture, GrantFrameOutsideRamLivesInPopekAndStillGrants) {
    // A data page in RAM, granted to dom0 through entry 3 of frame 0.
    constexpr uint64_t kDataPfn = 0x40;
    std::memcpy(mem.host_ptr(kDataPfn << 12, 5), "hello", 5);
    ASSERT_EQ(add_grant_frame(hc, 0, kOutsidePfn), 0);
    ASSERT_EQ(mapped.size(), 1u);
    EXPECT_EQ(mapped[0].first, kOutsidePfn);
    ASSERT_EQ(mapped[0].second.size(), kXenPageSize);
    auto* entries = reinterpret_cast<grant_entry_v1_t*>(mapped[0].second.data());
    entries[3] = grant_entry_v1_t{GTF_permit_access, kControlDomain, static_cast<uint32_t>(kDataPfn)};
    uint8_t buf[5];
    ASSERT_TRUE(dom.grant_table().copy_from(kControlDomain, 3, 0, buf));
    EXPECT_EQ(std::memcmp(buf, "hello", 5), 0);
    // Moving the frame into RAM carries the entries along.
    ASSERT_EQ(add_grant_frame(hc, 0, 0x50), 0);
    auto moved = mem.read_obj<grant_entry_v1_t>((0x50ull << 12) + 3 * sizeof(grant_entry_v1_t)).value();
    EXPECT_EQ(moved.frame, kDataPfn);
    EXPECT_EQ(mapped.size(), 1u);   // RAM needs no mapping
}

TEST_F(LinuxXenFixture, GrantFrameOutsideRamFailsWhenNothingCanShowIt) {
    accept_map = false;
    EXPECT_EQ(add_grant_frame(hc, 0, kOutsidePfn), -EINVAL);
    Hypercalls plain{dom, {}, HypercallHooks{}};
    EXPECT_EQ(add_grant_frame(plain, 0, kOutsidePfn), -EINVAL);
    // Hostile indices and frames fail before anything is mapped.
    mapped.clear();
    accept_map = true;
    EXPECT_EQ(add_grant_frame(hc, 64, kOutsidePfn), -EINVAL);
    EXPECT_EQ(add_grant_frame(hc, XENMAPIDX_grant_table_status, kOutsidePfn), -EINVAL);
    EXPECT_EQ(add_grant_frame(hc, 0, ~0ull), -EINVAL);
    EXPECT_TRUE(mapped.empty());
}

TEST(XenPhysmap, ServesMappedPagesAndNothingElse) {
    constexpr uint64_t kBase = 0x1'0000'0000;
    vmm::XenPhysmap window(kBase, 1 << 20);
    // Its pages are popek's own memory: its exits leave the own engine's code trusted.
    EXPECT_FALSE(window.writes_guest_ram());
    std::vector<uint8_t> page(4096, 0), other(4096, 0);
    EXPECT_FALSE(window.map((kBase >> 12) - 1, page));          // below the window
    EXPECT_FALSE(window.map((kBase + (1 << 20)) >> 12, page));  // past its end
    EXPECT_FALSE(window.map(kBase >> 12, std::span(page).first(100)));
    ASSERT_TRUE(window.map((kBase >> 12) + 2, page));
    const uint64_t at = 2 * 4096;
    uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8] = {};
    window.write(at + 8, in);
    EXPECT_EQ(std::memcmp(page.data() + 8, in, 8), 0);
    window.read(at + 8, std::span(out, 4));
    EXPECT_EQ(std::memcmp(out, in, 4), 0);
    window.write(at + 4093, std::span(in, 4));   // crosses into an unmapped page: dropped
    EXPECT_EQ(page[4093], 0);
    uint8_t ff[2];
    window.read(0, ff);   // unmapped: all ones
    EXPECT_EQ(ff[0], 0xff);
    EXPECT_EQ(ff[1], 0xff);
    // The same page mapped at another gpfn moves there.
    ASSERT_TRUE(window.map((kBase >> 12) + 5, page));
    EXPECT_EQ(window.mapped_pages(), 1u);
    window.read(at + 8, std::span(out, 1));
    EXPECT_EQ(out[0], 0xff);
    ASSERT_TRUE(window.map((kBase >> 12) + 2, other));
    EXPECT_EQ(window.mapped_pages(), 2u);
}

TEST(Pvclock, GuestReadsXenSystemTimeFromThePublishedFields) {
    constexpr uint64_t kHz = 2'000'000'000, kTsc = 123'456'789'000, kSystem = 5'000'000'000;
    VcpuTime t = pvclock_time(kHz, kTsc, kSystem);
    EXPECT_EQ(t.tsc_timestamp, kTsc);
    EXPECT_EQ(t.system_time, kSystem);
    // One second of TSC later the guest computes system time + 1 s (to within a nanosecond).
    uint64_t later = t.system_time + pvclock_delta_ns(kHz, t.scale);
    EXPECT_NEAR(static_cast<double>(later), static_cast<double>(kSystem + 1'000'000'000), 1.0);
    // Linux's pvclock_tsc_khz: (10^6 << 32) / mul, shifted back.
    uint64_t khz = (uint64_t{1'000'000} << 32) / t.scale.mul;
    khz = t.scale.shift < 0 ? khz << -t.scale.shift : khz >> t.scale.shift;
    EXPECT_NEAR(static_cast<double>(khz), 2'000'000.0, 1.0);
}

TEST(Pvclock, WallClockIsTheUnixTimeOfSystemTimeZero) {
    WallClock wc = wallclock_at_boot(1'795'616'801'250'000'000, 1'500'000'000);
    EXPECT_EQ(wc.sec, 1'795'616'799u);
    EXPECT_EQ(wc.nsec, 750'000'000u);
    WallClock clamped = wallclock_at_boot(5, 10);   // a host clock before the epoch: 0, not a wrap
    EXPECT_EQ(clamped.sec, 0u);
    EXPECT_EQ(clamped.nsec, 0u);
}

}  // namespace
