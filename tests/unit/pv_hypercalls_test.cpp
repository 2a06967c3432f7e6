// pv::Hypercalls and pv::PvDomain: a "guest" built from structs in guest RAM, calls through
// handle() exactly as an engine would pass them.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>

#include "pv/hypercalls.h"
#include "pv/store_wire.h"

using namespace popek;
using namespace popek::pv;
using namespace std::literals;

namespace {

constexpr uint64_t kArg = 0x8000;        // where the test puts argument structs
constexpr uint64_t kSharedInfo = 0x10000;
constexpr uint64_t kStorePfn = 0x20;

struct HypercallFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    std::mutex lock;
    std::vector<int> upcalls;
    PvDomain dom{mem, PvDomainConfig{.domid = 1, .name = "t", .vcpus = 2, .memory_bytes = 1 << 20, .store_quota = {}},
                 [this](int v) {
                     std::lock_guard l(lock);
                     upcalls.push_back(v);
                 }};
    int64_t shutdown_reason = -1;
    std::string console;
    std::vector<std::pair<int, uint64_t>> timers;
    int blocked = 0;
    Hypercalls hc{dom, {}, HypercallHooks{
        .shutdown = [this](unsigned r) { shutdown_reason = r; },
        .yield = {},
        .block = [this](int) { ++blocked; },
        .poll = [this](int, std::span<const evtchn_port_t>, uint64_t) { ++blocked; },
        .set_timer = [this](int v, uint64_t t) { timers.emplace_back(v, t); },
        .now_ns = [] { return uint64_t{1000}; },
        .console_write = [this](std::string_view s) { console += s; },
        .map_outside_ram = {},
        .start_vcpu = {},
        .vcpu_running = {},
        .trace = {},
    }};

    int64_t call(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, int vcpu = 0) {
        uint64_t result = 0;
        hv::Hypercall h{nr, {a0, a1, a2, 0, 0}, &result};
        return static_cast<int64_t>(hc.handle(vcpu, h));
    }
    template <class T>
    void put(uint64_t gpa, const T& v) { ASSERT_TRUE(mem.write_obj(gpa, v)); }
    template <class T>
    T get(uint64_t gpa) { return mem.read_obj<T>(gpa).value(); }
};

}  // namespace

TEST_F(HypercallFixture, UnknownAndMalformedCallsFailCleanly) {
    EXPECT_EQ(call(__HYPERVISOR_mmu_update), -ENOSYS);
    EXPECT_EQ(call(9999), -ENOSYS);
    EXPECT_EQ(call(__HYPERVISOR_xen_version, 777), -ENOSYS);
    EXPECT_EQ(call(__HYPERVISOR_sched_op, 999), -ENOSYS);
    EXPECT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, kArg), -ENOSYS);
    EXPECT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, kArg, 1), -ENOSYS);
    // Pointers outside guest RAM.
    EXPECT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, 1ull << 40), -EFAULT);
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, ~0ull - 2), -EFAULT);
    EXPECT_EQ(call(__HYPERVISOR_console_io, CONSOLEIO_write, 10, 1ull << 40), -EFAULT);
    EXPECT_EQ(call(__HYPERVISOR_console_io, CONSOLEIO_write, 1ull << 40, kArg), -EINVAL);
    // vCPU index from the engine out of range.
    EXPECT_EQ(call(__HYPERVISOR_xen_version, XENVER_version, 0, 0, 5), -EINVAL);
    EXPECT_EQ(shutdown_reason, -1);
}

TEST_F(HypercallFixture, FifoInitControlGetsXensArgumentErrorsThenEnosys) {
    // XTF xsa-188: a bad control frame is -EINVAL; FIFO itself is not offered (2-level only).
    auto init = [&](uint64_t gfn, uint32_t offset, uint32_t vcpu) {
        put(kArg, evtchn_init_control_t{.control_gfn = gfn, .offset = offset, .vcpu = vcpu, .link_bits = 0, ._pad = {}});
        return call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, kArg);
    };
    EXPECT_EQ(init(~uint64_t{0} - 1, 0, 0), -EINVAL) << "xsa-188's frame";
    EXPECT_EQ(init(0x1000, 0, 0), -EINVAL) << "beyond RAM";
    EXPECT_EQ(init(0x9, 4, 0), -EINVAL) << "offset not 8-aligned";
    EXPECT_EQ(init(0x9, 4096 - 64, 0), -EINVAL) << "control block crosses the page";
    EXPECT_EQ(init(0x9, 0, 2), -ENOENT) << "no such vCPU";
    EXPECT_EQ(init(0x9, 8, 1), -ENOSYS) << "valid: no FIFO ABI";
    EXPECT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_expand_array, kArg), -ENOSYS);
}

TEST_F(HypercallFixture, VersionAndFeatures) {
    EXPECT_EQ(call(__HYPERVISOR_xen_version, XENVER_version), (4 << 16) | 17);
    put(kArg, xen_feature_info_t{0, 0});
    ASSERT_EQ(call(__HYPERVISOR_xen_version, XENVER_get_features, kArg), 0);
    auto fi = get<xen_feature_info_t>(kArg);
    EXPECT_TRUE(fi.submap & (1u << XENFEAT_hvm_callback_vector));
    EXPECT_TRUE(fi.submap & (1u << XENFEAT_auto_translated_physmap));
    put(kArg, xen_feature_info_t{5, 0});
    EXPECT_EQ(call(__HYPERVISOR_xen_version, XENVER_get_features, kArg), -EINVAL);
    ASSERT_EQ(call(__HYPERVISOR_xen_version, XENVER_capabilities, kArg), 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(mem.host_ptr(kArg, 16))), "hvm-3.0-x86_64");
    EXPECT_EQ(call(__HYPERVISOR_xen_version, XENVER_pagesize), 4096);
}

TEST_F(HypercallFixture, ConsoleWrite) {
    std::memcpy(mem.host_ptr(kArg, 5), "hello", 5);
    EXPECT_EQ(call(__HYPERVISOR_console_io, CONSOLEIO_write, 5, kArg), 0);
    EXPECT_EQ(console, "hello");
    EXPECT_EQ(call(__HYPERVISOR_console_io, 42, 5, kArg), -ENOSYS);
}

TEST_F(HypercallFixture, ShutdownReasons) {
    put(kArg, sched_shutdown_t{SHUTDOWN_poweroff});
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, kArg), 0);
    EXPECT_EQ(shutdown_reason, SHUTDOWN_poweroff);
    put(kArg, sched_shutdown_t{SHUTDOWN_crash});
    call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, kArg);
    EXPECT_EQ(shutdown_reason, SHUTDOWN_crash);
    shutdown_reason = -1;
    put(kArg, sched_shutdown_t{SHUTDOWN_suspend});
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, kArg), -ENOSYS);
    put(kArg, sched_shutdown_t{99});
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, kArg), -EINVAL);
    EXPECT_EQ(shutdown_reason, -1);
}

TEST_F(HypercallFixture, SharedInfoPlacementAndEventChannelsThroughHypercalls) {
    put(kArg, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, kSharedInfo >> 12});
    ASSERT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg), 0);
    put(kArg, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_shared_info, 1, kSharedInfo >> 12});
    EXPECT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg), -EINVAL);
    put(kArg, xen_add_to_physmap_t{7, 0, XENMAPSPACE_shared_info, 0, kSharedInfo >> 12});
    EXPECT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg), -EPERM);
    put(kArg, xen_add_to_physmap_t{DOMID_SELF, 0, 77, 0, 0});
    EXPECT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg), -EINVAL);

    put(kArg, evtchn_bind_ipi_t{1, 0});
    ASSERT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, kArg), 0);
    evtchn_port_t port = get<evtchn_bind_ipi_t>(kArg).port;
    EXPECT_GT(port, 0u);
    put(kArg + 64, evtchn_send_t{port});
    ASSERT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, kArg + 64), 0);
    auto si = get<shared_info_t>(kSharedInfo);
    EXPECT_TRUE(si.evtchn_pending[0] >> port & 1);
    EXPECT_EQ(si.vcpu_info[1].evtchn_upcall_pending, 1);
    EXPECT_EQ(upcalls, std::vector<int>{1});
    put(kArg + 64, evtchn_send_t{4000});
    EXPECT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, kArg + 64), -EINVAL);

    // SCHEDOP_poll returns at once when a listed port is pending, else blocks; bad ports: EINVAL.
    evtchn_port_t ports[2] = {3, port};
    std::memcpy(mem.host_ptr(kArg + 128, sizeof(ports)), ports, sizeof(ports));
    sched_poll_t poll{};
    poll.ports.p = reinterpret_cast<evtchn_port_t*>(kArg + 128);
    poll.nr_ports = 2;
    put(kArg, poll);
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_poll, kArg), 0);
    EXPECT_EQ(blocked, 0);
    poll.nr_ports = 1;
    put(kArg, poll);
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_poll, kArg), 0);
    EXPECT_EQ(blocked, 1);
    poll.nr_ports = 1000;
    put(kArg, poll);
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_poll, kArg), -EINVAL);
    ports[0] = 99999;
    std::memcpy(mem.host_ptr(kArg + 128, sizeof(ports)), ports, sizeof(ports));
    poll.nr_ports = 1;
    put(kArg, poll);
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_poll, kArg), -EINVAL);
}

TEST_F(HypercallFixture, ExhaustingEventChannelsGivesEnospc) {
    int64_t r = 0;
    int bound = 0;
    for (int i = 0; i < 5000 && r == 0; ++i) {
        put(kArg, evtchn_bind_ipi_t{0, 0});
        r = call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, kArg);
        bound += r == 0;
    }
    EXPECT_EQ(r, -ENOSPC);
    EXPECT_EQ(bound, 1023);
}

TEST_F(HypercallFixture, HvmParams) {
    xen_hvm_param_t p{DOMID_SELF, 0, HVM_PARAM_CALLBACK_IRQ, (uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | 0xF3};
    put(kArg, p);
    ASSERT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), 0);
    EXPECT_EQ(dom.callback_vector(), 0xF3);
    p.value = 0x5;  // GSI callback: recorded (Linux sets GSI 1 next to per-vCPU vectors), never raised
    put(kArg, p);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), 0);
    EXPECT_EQ(dom.callback_vector(), std::nullopt);
    p.value = (uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | 0x0E;  // an exception vector
    put(kArg, p);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), -EINVAL);
    p.value = uint64_t{3} << 56 | 1;  // no such callback type on x86
    put(kArg, p);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), -EINVAL);
    p = {DOMID_SELF, 0, HVM_PARAM_STORE_PFN, 0x1234};
    put(kArg, p);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, kArg), -EPERM);  // toolstack's
    p = {DOMID_SELF, 0, HVM_NR_PARAMS, 0};
    put(kArg, p);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_get_param, kArg), -EINVAL);
    p = {3, 0, HVM_PARAM_STORE_PFN, 0};
    put(kArg, p);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_get_param, kArg), -EPERM);
    ASSERT_TRUE(dom.connect_store(kStorePfn));
    p = {DOMID_SELF, 0, HVM_PARAM_STORE_PFN, 0};
    put(kArg, p);
    ASSERT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_get_param, kArg), 0);
    EXPECT_EQ(get<xen_hvm_param_t>(kArg).value, kStorePfn);
    EXPECT_EQ(call(__HYPERVISOR_hvm_op, 777, kArg), -ENOSYS);
}

TEST_F(HypercallFixture, TimersAndVcpuOps) {
    EXPECT_EQ(call(__HYPERVISOR_set_timer_op, 5000, 0, 0, 1), 0);
    put(kArg, vcpu_set_singleshot_timer_t{500, VCPU_SSHOTTMR_future});  // in the past (now = 1000)
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, kArg), -ETIME);
    put(kArg, vcpu_set_singleshot_timer_t{9000, VCPU_SSHOTTMR_future});
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, kArg), 0);
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 1, kArg), -EINVAL);  // not self
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_stop_singleshot_timer, 0, 0), 0);
    ASSERT_EQ(timers.size(), 3u);
    EXPECT_EQ(timers[0], std::make_pair(1, uint64_t{5000}));
    EXPECT_EQ(timers[1], std::make_pair(0, uint64_t{9000}));
    EXPECT_EQ(timers[2], std::make_pair(0, uint64_t{0}));
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 0), 1);
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 1), 0);
    hc.set_vcpu_up(1, true);
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 1), 1);
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 2), -ENOENT);
    put(kArg, vcpu_register_vcpu_info_t{0x30, 64, 0});
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 1, kArg), 0);
    put(kArg, vcpu_register_vcpu_info_t{0x30, 4090, 0});
    EXPECT_EQ(call(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 1, kArg), -EINVAL);
    // SCHEDOP_block sleeps only when nothing is pending for the vCPU.
    EXPECT_EQ(call(__HYPERVISOR_sched_op, SCHEDOP_block), 0);
    EXPECT_EQ(blocked, 1);
}

TEST_F(HypercallFixture, ArgumentsStraddlingScatteredPagesAreReadPerPage) {
    // Translation maps guest-virtual page N to physical page 0x40 + (N ^ 1): contiguous virtual
    // pages are swapped physically.
    Hypercalls paged{dom, [](int, uint64_t gva) -> Result<uint64_t> {
                         uint64_t page = gva >> 12;
                         return ((0x40 + (page ^ 1)) << 12) | (gva & 0xFFF);
                     },
                     HypercallHooks{}};
    xen_hvm_param_t p{DOMID_SELF, 0, HVM_PARAM_CALLBACK_IRQ, (uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | 0xE0};
    auto bytes = reinterpret_cast<const uint8_t*>(&p);
    // The struct starts 6 bytes before the end of virtual page 0 (physical 0x41).
    uint64_t gva = 0x1000 - 6;
    std::memcpy(mem.host_ptr((0x41ull << 12) + 0xFFA, 6), bytes, 6);
    std::memcpy(mem.host_ptr(0x40ull << 12, sizeof(p) - 6), bytes + 6, sizeof(p) - 6);
    uint64_t result = 0;
    hv::Hypercall h{__HYPERVISOR_hvm_op, {HVMOP_set_param, gva, 0, 0, 0}, &result};
    EXPECT_EQ(paged.handle(0, h), 0u);
    EXPECT_EQ(dom.callback_vector(), 0xE0);
    Hypercalls failing{dom, [](int, uint64_t) -> Result<uint64_t> { return fail("not mapped"); }, HypercallHooks{}};
    EXPECT_EQ(static_cast<int64_t>(failing.handle(0, h)), -EFAULT);
}

TEST_F(HypercallFixture, NonCanonicalPointersFaultEvenWhenThePageWalkWouldAlias) {
    // KVM's KVM_TRANSLATE walks with bits 47:0 only, so 0x8000'0000'0000'8000 would alias 0x8000.
    Hypercalls aliasing{dom, [](int, uint64_t gva) -> Result<uint64_t> { return gva & ((1ull << 48) - 1); },
                        HypercallHooks{}};
    put(kArg, evtchn_send_t{1});
    uint64_t result = 0;
    hv::Hypercall h{__HYPERVISOR_event_channel_op, {EVTCHNOP_send, (1ull << 63) | kArg, 0, 0, 0}, &result};
    EXPECT_EQ(static_cast<int64_t>(aliasing.handle(0, h)), -EFAULT);
    h.args[1] = 0x0000'8000'0000'0000ull | kArg;  // bit 47 set, upper bits clear: not canonical either
    EXPECT_EQ(static_cast<int64_t>(aliasing.handle(0, h)), -EFAULT);
    h.args[1] = kArg;
    EXPECT_EQ(static_cast<int64_t>(aliasing.handle(0, h)), -EINVAL);  // the canonical pointer reaches the call: port 1 is not bound
}

TEST_F(HypercallFixture, GrantTableOps) {
    put(kArg, gnttab_query_size_t{DOMID_SELF, 0, 0, 0});
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_query_size_t>(kArg).max_nr_frames, 64u);
    EXPECT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, kArg, 2), -EINVAL);
    gnttab_setup_table_t st{};
    st.dom = DOMID_SELF;
    st.nr_frames = 2;
    st.frame_list.p = reinterpret_cast<xen_pfn_t*>(kArg + 256);
    put(kArg, st);
    put(kArg + 256, xen_pfn_t{123});
    put(kArg + 512, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_grant_table, 1, 0x50});
    ASSERT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg + 512), 0);
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_setup_table_t>(kArg).status, GNTST_okay);
    EXPECT_EQ(get<xen_pfn_t>(kArg + 256 + 8), 0x50u);
    st.nr_frames = 65;
    put(kArg, st);
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_setup_table_t>(kArg).status, GNTST_general_error);
    EXPECT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_copy, kArg, 100000), -EINVAL);
    put(kArg, gnttab_set_version_t{3});
    EXPECT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, kArg, 1), -EINVAL);
    EXPECT_EQ(get<gnttab_set_version_t>(kArg).version, 1u) << "the version in use, written back";
    // Version 2 (XTF selftest's xtf_init_grant_table(2)), its status frames, and back to 1.
    put(kArg, gnttab_set_version_t{2});
    EXPECT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, kArg, 1), 0);
    put(kArg, gnttab_get_version_t{DOMID_SELF, 0, 0});
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_get_version, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_get_version_t>(kArg).version, 2u);
    gnttab_get_status_frames_t sf{};
    sf.nr_frames = 1;
    sf.dom = DOMID_SELF;
    set_xen_guest_handle(sf.frame_list, reinterpret_cast<uint64_t*>(kArg + 256));
    put(kArg, sf);
    put(kArg + 512, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_grant_table, 0 | XENMAPIDX_grant_table_status, 0x60});
    ASSERT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg + 512), 0);
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_get_status_frames, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_get_status_frames_t>(kArg).status, GNTST_okay);
    EXPECT_EQ(get<uint64_t>(kArg + 256), 0x60u);
    sf.nr_frames = 2;   // 2 shared frames of 256 entries: one status frame
    put(kArg, sf);
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_get_status_frames, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_get_status_frames_t>(kArg).status, GNTST_general_error);
    put(kArg, gnttab_set_version_t{1});
    EXPECT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, kArg, 1), 0);
    sf.nr_frames = 1;
    put(kArg, sf);
    ASSERT_EQ(call(__HYPERVISOR_grant_table_op, GNTTABOP_get_status_frames, kArg, 1), 0);
    EXPECT_EQ(get<gnttab_get_status_frames_t>(kArg).status, GNTST_general_error) << "v1 has none";
    put(kArg + 512, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_grant_table, 0 | XENMAPIDX_grant_table_status, 0x60});
    EXPECT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg + 512), -EINVAL);
}

TEST_F(HypercallFixture, StoreRequestOverTheRingWithEventChannel) {
    put(kArg, xen_add_to_physmap_t{DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, kSharedInfo >> 12});
    ASSERT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, kArg), 0);
    ASSERT_TRUE(dom.connect_store(kStorePfn));
    auto store_port = static_cast<evtchn_port_t>(dom.get_param(HVM_PARAM_STORE_EVTCHN).value());
    auto* ring = reinterpret_cast<xenstore_domain_interface*>(mem.host_ptr(kStorePfn << 12, 4096));
    std::string req = StoreWire::frame(XS_READ, 11, 0, "name\0"s);
    for (char c : req) ring->req[MASK_XENSTORE_IDX(ring->req_prod++)] = c;
    put(kArg, evtchn_send_t{store_port});
    ASSERT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, kArg), 0);
    std::string rsp;
    while (ring->rsp_cons != ring->rsp_prod) rsp.push_back(ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons++)]);
    ASSERT_EQ(rsp.size(), sizeof(xsd_sockmsg) + 1);
    EXPECT_EQ(rsp.substr(sizeof(xsd_sockmsg)), "t");
    auto si = get<shared_info_t>(kSharedInfo);
    EXPECT_TRUE(si.evtchn_pending[0] >> store_port & 1);  // the guest was notified
    // A watch set by the guest fires when popek's backends write.
    std::string watch = StoreWire::frame(XS_WATCH, 12, 0, "device\0w\0"s);
    for (char c : watch) ring->req[MASK_XENSTORE_IDX(ring->req_prod++)] = c;
    dom.service_store();
    ring->rsp_cons = ring->rsp_prod;
    dom.with_store([](Store& s, ConnId c) { return s.write(c, 0, "/local/domain/1/device/vbd", "x"); });
    std::string event;
    while (ring->rsp_cons != ring->rsp_prod) event.push_back(ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons++)]);
    EXPECT_NE(event.find("device/vbd\0w\0"s), std::string::npos);
}
