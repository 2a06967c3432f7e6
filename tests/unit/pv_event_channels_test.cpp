// pv::EventChannels: the 2-level ABI in guest memory, port operations, limits and hostile input.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "pv/event_channels.h"
#include "pv/pvclock.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr uint64_t kSharedInfoGpa = 0x10000;
constexpr DomId kGuest = 1;

struct EvtchnFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    std::mutex upcall_lock;  // senders on several threads may upcall at once
    std::vector<int> upcalls;
    EventChannels ev{mem, kGuest, 2,
                     [this](int vcpu) {
                         std::lock_guard lock(upcall_lock);
                         upcalls.push_back(vcpu);
                     },
                     256};

    shared_info_t& shared() { return *reinterpret_cast<shared_info_t*>(mem.host_ptr(kSharedInfoGpa, 4096)); }
    bool pending(evtchn_port_t p) { return shared().evtchn_pending[p / 64] >> (p % 64) & 1; }
    void mask(evtchn_port_t p) { shared().evtchn_mask[p / 64] |= 1ull << (p % 64); }
    /// What a guest's upcall handler does: take the selector, clear upcall_pending.
    void ack(int vcpu) {
        shared().vcpu_info[vcpu].evtchn_upcall_pending = 0;
        shared().vcpu_info[vcpu].evtchn_pending_sel = 0;
    }
    evtchn_port_t ipi(uint32_t vcpu) {
        evtchn_bind_ipi op{vcpu, 0};
        EXPECT_TRUE(ev.bind_ipi(op));
        return op.port;
    }
    void SetUp() override { ASSERT_TRUE(ev.place_shared_info(kSharedInfoGpa)); }
};

}  // namespace

TEST_F(EvtchnFixture, IpiSetsPendingSelectorAndUpcallOnce) {
    evtchn_port_t p = ipi(1);
    EXPECT_NE(p, 0u);  // port 0 is never handed out
    ASSERT_TRUE(ev.send(p));
    EXPECT_TRUE(pending(p));
    EXPECT_EQ(shared().vcpu_info[1].evtchn_pending_sel, 1ull << (p / 64));
    EXPECT_EQ(shared().vcpu_info[1].evtchn_upcall_pending, 1);
    EXPECT_EQ(upcalls, std::vector<int>{1});
    ASSERT_TRUE(ev.send(p));  // already pending: no second upcall
    EXPECT_EQ(upcalls.size(), 1u);
    EXPECT_TRUE(ev.upcall_pending(1));
    EXPECT_FALSE(ev.upcall_pending(0));
}

TEST_F(EvtchnFixture, MaskedPortStaysQuietUntilUnmask) {
    evtchn_port_t p = ipi(0);
    mask(p);
    ASSERT_TRUE(ev.send(p));
    EXPECT_TRUE(pending(p));
    EXPECT_EQ(shared().vcpu_info[0].evtchn_upcall_pending, 0);
    EXPECT_TRUE(upcalls.empty());
    ASSERT_TRUE(ev.unmask(p));
    EXPECT_EQ(shared().vcpu_info[0].evtchn_upcall_pending, 1);
    EXPECT_EQ(upcalls, std::vector<int>{0});
    EXPECT_EQ(ev.unmask(100000).error(), EINVAL);
}

TEST_F(EvtchnFixture, StateBeforePlacementMovesIntoTheGuestPage) {
    memory::GuestMemory m2 = memory::GuestMemory::create(1 << 20).value();
    int calls = 0;
    EventChannels e2(m2, kGuest, 1, [&](int) { ++calls; });
    evtchn_bind_ipi op{0, 0};
    ASSERT_TRUE(e2.bind_ipi(op));
    ASSERT_TRUE(e2.send(op.port));
    ASSERT_TRUE(e2.place_shared_info(0x2000));
    auto* s = reinterpret_cast<shared_info_t*>(m2.host_ptr(0x2000, 4096));
    EXPECT_TRUE(s->evtchn_pending[0] >> op.port & 1);
    EXPECT_EQ(s->vcpu_info[0].evtchn_upcall_pending, 1);
    EXPECT_EQ(e2.place_shared_info(0x2001).error(), EINVAL);              // not page aligned
    EXPECT_EQ(e2.place_shared_info(64ull << 30).error(), EINVAL);         // outside RAM
}

TEST_F(EvtchnFixture, RegisteredVcpuInfoReceivesSelectorBits) {
    constexpr uint64_t kVcpuInfo = 0x20040;
    ASSERT_TRUE(ev.place_vcpu_info(1, kVcpuInfo));
    evtchn_port_t p = ipi(1);
    ASSERT_TRUE(ev.send(p));
    auto* vi = reinterpret_cast<vcpu_info*>(mem.host_ptr(kVcpuInfo, sizeof(vcpu_info)));
    EXPECT_EQ(vi->evtchn_upcall_pending, 1);
    EXPECT_EQ(shared().vcpu_info[1].evtchn_upcall_pending, 0);
    EXPECT_EQ(ev.place_vcpu_info(1, 0x20FF8).error(), EINVAL);  // would cross the page
    EXPECT_EQ(ev.place_vcpu_info(1, 0x20041).error(), EINVAL);  // misaligned
    EXPECT_EQ(ev.place_vcpu_info(5, 0x20040).error(), ENOENT);  // no such vCPU
    EXPECT_EQ(ev.place_vcpu_info(0, 1ull << 40).error(), EINVAL);
}

TEST_F(EvtchnFixture, LoopbackInterdomainPingPong) {
    evtchn_alloc_unbound a{DOMID_SELF, DOMID_SELF, 0};
    ASSERT_TRUE(ev.alloc_unbound(a));
    ASSERT_TRUE(ev.send(a.port));  // unbound: dropped
    EXPECT_FALSE(pending(a.port));
    evtchn_bind_interdomain b{DOMID_SELF, a.port, 0};
    ASSERT_TRUE(ev.bind_interdomain(b));
    EXPECT_TRUE(pending(b.local_port));  // Xen raises the new end once
    shared().evtchn_pending[0] = 0;
    ack(0);
    ASSERT_TRUE(ev.send(b.local_port));
    EXPECT_TRUE(pending(a.port));
    EXPECT_FALSE(pending(b.local_port));
    ASSERT_TRUE(ev.send(a.port));
    EXPECT_TRUE(pending(b.local_port));
    evtchn_status st{DOMID_SELF, a.port, 0, 0, {}};
    ASSERT_TRUE(ev.status(st));
    EXPECT_EQ(st.status, static_cast<uint32_t>(EVTCHNSTAT_interdomain));
    EXPECT_EQ(st.u.interdomain.port, b.local_port);
    ASSERT_TRUE(ev.close(b.local_port));
    ASSERT_TRUE(ev.status(st));
    EXPECT_EQ(st.status, static_cast<uint32_t>(EVTCHNSTAT_unbound));
    // Binding twice to the same (now re-unbound) port works; to a bound one does not.
    evtchn_bind_interdomain again{DOMID_SELF, a.port, 0};
    ASSERT_TRUE(ev.bind_interdomain(again));
    EXPECT_EQ(ev.bind_interdomain(again).error(), EINVAL);
}

TEST_F(EvtchnFixture, BackendChannelNotifiesBothWays) {
    int backend_notified = 0;
    evtchn_alloc_unbound a{DOMID_SELF, 0, 0};
    ASSERT_TRUE(ev.alloc_unbound(a));
    auto bport = ev.backend_bind(a.port, [&] { ++backend_notified; });
    ASSERT_TRUE(bport);
    ASSERT_TRUE(ev.send(a.port));
    EXPECT_EQ(backend_notified, 1);
    ASSERT_TRUE(ev.backend_send(*bport));
    EXPECT_TRUE(pending(a.port));
    EXPECT_EQ(ev.backend_bind(a.port, {}).error(), EINVAL);  // already bound
    ASSERT_TRUE(ev.close(a.port));
    EXPECT_EQ(ev.backend_send(*bport).error(), EINVAL);      // guest closed it
    EXPECT_EQ(ev.backend_send(999).error(), EINVAL);
    auto host = ev.host_channel([&] { ++backend_notified; });
    ASSERT_TRUE(host);
    ASSERT_TRUE(ev.send(host->guest_port));
    EXPECT_EQ(backend_notified, 2);
}

TEST_F(EvtchnFixture, VirqBindingAndRaising) {
    evtchn_bind_virq t0{VIRQ_TIMER, 0, 0}, t1{VIRQ_TIMER, 1, 0};
    ASSERT_TRUE(ev.bind_virq(t0));
    ASSERT_TRUE(ev.bind_virq(t1));
    EXPECT_NE(t0.port, t1.port);
    evtchn_bind_virq dup{VIRQ_TIMER, 1, 0};
    EXPECT_EQ(ev.bind_virq(dup).error(), EEXIST);
    EXPECT_TRUE(ev.raise_virq(VIRQ_TIMER, 1));
    EXPECT_TRUE(pending(t1.port));
    EXPECT_FALSE(pending(t0.port));
    EXPECT_EQ(upcalls, std::vector<int>{1});
    EXPECT_FALSE(ev.raise_virq(VIRQ_DEBUG, 0));  // not bound
    evtchn_bind_virq global_on_1{VIRQ_CONSOLE, 1, 0};
    EXPECT_EQ(ev.bind_virq(global_on_1).error(), EINVAL);
    evtchn_bind_virq bad{kNumVirqs, 0, 0};
    EXPECT_EQ(ev.bind_virq(bad).error(), EINVAL);
    evtchn_bind_virq badcpu{VIRQ_TIMER, 7, 0};
    EXPECT_EQ(ev.bind_virq(badcpu).error(), ENOENT);
    EXPECT_EQ(ev.send(t0.port).error(), EINVAL);  // cannot send on a VIRQ
    ASSERT_TRUE(ev.close(t1.port));
    EXPECT_FALSE(ev.raise_virq(VIRQ_TIMER, 1));
    ASSERT_TRUE(ev.bind_virq(t1));  // rebinding after close works
}

TEST_F(EvtchnFixture, BindVcpuMovesGlobalChannels) {
    evtchn_alloc_unbound a{DOMID_SELF, DOMID_SELF, 0};
    ASSERT_TRUE(ev.alloc_unbound(a));
    evtchn_bind_interdomain b{DOMID_SELF, a.port, 0};
    ASSERT_TRUE(ev.bind_interdomain(b));
    ack(0);
    upcalls.clear();
    ASSERT_TRUE(ev.bind_vcpu(evtchn_bind_vcpu{a.port, 1}));
    ASSERT_TRUE(ev.send(b.local_port));
    EXPECT_EQ(upcalls, std::vector<int>{1});
    EXPECT_EQ(ev.bind_vcpu(evtchn_bind_vcpu{a.port, 9}).error(), ENOENT);
    EXPECT_EQ(ev.bind_vcpu(evtchn_bind_vcpu{ipi(0), 1}).error(), EINVAL);
    EXPECT_EQ(ev.bind_vcpu(evtchn_bind_vcpu{200, 1}).error(), EINVAL);
}

TEST_F(EvtchnFixture, HostilePortsAndDomains) {
    for (evtchn_port_t bad : {0u, 5u, 255u, 256u, 0xFFFFFFFFu}) {
        EXPECT_EQ(ev.send(bad).error(), EINVAL) << bad;
        EXPECT_EQ(ev.close(bad).error(), EINVAL) << bad;
    }
    evtchn_status st{DOMID_SELF, 0xFFFFFFFF, 0, 0, {}};
    EXPECT_EQ(ev.status(st).error(), EINVAL);
    st = {7, 1, 0, 0, {}};
    EXPECT_EQ(ev.status(st).error(), EPERM);  // another domain
    evtchn_alloc_unbound other{7, DOMID_SELF, 0};
    EXPECT_EQ(ev.alloc_unbound(other).error(), EPERM);
    evtchn_alloc_unbound far{DOMID_SELF, 9, 0};
    EXPECT_EQ(ev.alloc_unbound(far).error(), ESRCH);
    evtchn_bind_interdomain to_dom0{0, 1, 0};
    EXPECT_EQ(ev.bind_interdomain(to_dom0).error(), EINVAL);
    evtchn_bind_interdomain to_other{9, 1, 0};
    EXPECT_EQ(ev.bind_interdomain(to_other).error(), ESRCH);
    evtchn_bind_interdomain to_ipi{DOMID_SELF, ipi(0), 0};
    EXPECT_EQ(ev.bind_interdomain(to_ipi).error(), EINVAL);
    evtchn_bind_ipi bad_vcpu{2, 0};
    EXPECT_EQ(ev.bind_ipi(bad_vcpu).error(), ENOENT);
}

TEST_F(EvtchnFixture, ExhaustionGivesEnospcAndCloseFreesAPort) {
    std::vector<evtchn_port_t> ports;
    for (;;) {
        evtchn_bind_ipi op{0, 0};
        auto r = ev.bind_ipi(op);
        if (!r) {
            EXPECT_EQ(r.error(), ENOSPC);
            break;
        }
        ports.push_back(op.port);
        ASSERT_LT(ports.size(), 1000u);
    }
    EXPECT_EQ(ports.size(), 255u);  // 256 ports, port 0 reserved
    EXPECT_EQ(ports.back(), 255u);
    ASSERT_TRUE(ev.close(ports[10]));
    evtchn_bind_ipi op{0, 0};
    ASSERT_TRUE(ev.bind_ipi(op));
    EXPECT_EQ(op.port, ports[10]);
}

TEST_F(EvtchnFixture, ConcurrentSendersRaiseEveryPortExactlyOnce) {
    std::vector<evtchn_port_t> ports;
    for (int i = 0; i < 128; ++i) ports.push_back(ipi(static_cast<uint32_t>(i % 2)));
    std::atomic<bool> go{false};
    auto sender = [&](size_t start) {
        while (!go) {}
        for (size_t i = start; i < ports.size(); i += 2) ASSERT_TRUE(ev.send(ports[i]));
    };
    std::thread a(sender, 0), b(sender, 1);
    go = true;
    a.join();
    b.join();
    for (evtchn_port_t p : ports) EXPECT_TRUE(pending(p));
    EXPECT_EQ(upcalls.size(), 2u);  // one per vCPU
}

TEST(Pvclock, ScaleConvertsTicksToNanoseconds) {
    for (uint64_t hz : {1'000'000'000ull, 2'500'000'000ull, 3'000'000'000ull, 100'000'000ull, 7'123'456'789ull}) {
        PvclockScale s = pvclock_scale(hz);
        EXPECT_GE(s.mul, 1u << 31) << hz;
        // One second of ticks is one second, to within a few ns of rounding.
        uint64_t ns = pvclock_delta_ns(hz, s);
        EXPECT_NEAR(static_cast<double>(ns), 1e9, 4.0) << hz;
    }
}

TEST_F(EvtchnFixture, TimeAndWallclockFollowTheVersionProtocol) {
    PvclockScale s = pvclock_scale(2'000'000'000);
    ev.publish_time(1, 1000, 5000, s.mul, s.shift, XEN_PVCLOCK_TSC_STABLE_BIT);
    const vcpu_time_info& t = shared().vcpu_info[1].time;
    EXPECT_EQ(t.version % 2, 0u);
    EXPECT_GT(t.version, 0u);
    EXPECT_EQ(t.system_time, 5000u);
    EXPECT_EQ(t.tsc_timestamp, 1000u);
    EXPECT_EQ(t.flags, XEN_PVCLOCK_TSC_STABLE_BIT);
    uint32_t v = t.version;
    ev.publish_time(1, 2000, 6000, s.mul, s.shift, 0);
    EXPECT_EQ(t.version, v + 2);
    ev.publish_wallclock((1ull << 32) + 5, 7);
    EXPECT_EQ(shared().wc_sec, 5u);
    EXPECT_EQ(shared().xen_wc_sec_hi, 1u);
    EXPECT_EQ(shared().wc_nsec, 7u);
    EXPECT_EQ(shared().wc_version % 2, 0u);
    ev.publish_time(9, 0, 0, 0, 0, 0);  // no such vCPU: ignored
}
