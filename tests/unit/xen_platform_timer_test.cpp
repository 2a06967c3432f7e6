// vmm::XenPlatform's singleshot timers (docs/pv.md "Wiring"): a guest that re-arms its timer from
// the VIRQ_TIMER upcall itself - as popek-os's scheduler tick does - keeps getting timer events.
// The upcall runs while the timer thread has dropped its lock to raise the VIRQ; a deadline armed
// in that window must not be missed (it was, and the thread then slept forever).
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "pv/xen_abi.h"
#include "vmm/xen_platform.h"

namespace {

using namespace popek;
using namespace std::chrono_literals;

constexpr uint64_t kSharedInfoGpa = 0x10000, kArgGpa = 0x11000, kVcpuArgGpa = 0x12000;
constexpr uint8_t kVector = 0x41;

/// A vCPU whose guest-virtual addresses are physical (hypercall arguments in guest RAM).
class IdentityVcpu final : public hv::Vcpu {
public:
    int index() const override { return 0; }
    Result<hv::VcpuExit> run() override { return fail("not runnable"); }
    Result<hv::CpuState> get_state() override { return hv::CpuState{}; }
    Result<void> set_state(const hv::CpuState&) override { return {}; }
    void request_stop() override {}
    Result<uint64_t> translate_gva(uint64_t gva) override { return gva; }
};

/// Records injected vectors and runs the test's "guest" upcall on the injecting thread.
class FakeVm final : public hv::Vm {
public:
    Result<void> set_memory(const memory::GuestMemory&) override { return {}; }
    Result<std::unique_ptr<hv::Vcpu>> create_vcpu(int) override { return std::make_unique<IdentityVcpu>(); }
    Result<void> set_irq_line(uint32_t, bool) override { return {}; }
    Result<void> inject_vector(int vcpu, uint8_t vector) override {
        if (on_inject) on_inject(vcpu, vector);
        return {};
    }
    std::function<void(int, uint8_t)> on_inject;
};

class XenPlatformTimerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto mem = memory::GuestMemory::create(4 << 20);
        ASSERT_TRUE(mem);
        m_mem = std::make_unique<memory::GuestMemory>(std::move(*mem));
        auto p = vmm::XenPlatform::create(m_vm, *m_mem, m_life, 1, [](std::span<const uint8_t>) {});
        ASSERT_TRUE(p) << p.error().message;
        m_platform = std::move(*p);
        m_platform->set_vcpus({&m_vcpu});
    }
    void TearDown() override {
        m_vm.on_inject = nullptr;
        m_platform.reset();
    }

    /// One hypercall with `arg` copied to kArgGpa (its address is the second argument).
    template <class T>
    int64_t call(uint64_t nr, uint64_t a1, const T& arg, uint64_t arg_gpa = kArgGpa, T* out = nullptr) {
        EXPECT_TRUE(m_mem->write_obj(arg_gpa, arg));
        uint64_t result = 0;
        m_platform->handle(0, hv::Hypercall{nr, {a1, arg_gpa, 0, 0, 0}, &result});
        if (out != nullptr) *out = *m_mem->read_obj<T>(arg_gpa);
        return static_cast<int64_t>(result);
    }
    int64_t arm(uint64_t deadline_ns) {
        vcpu_set_singleshot_timer_t sst{};
        sst.timeout_abs_ns = deadline_ns;
        uint64_t result = 0;
        EXPECT_TRUE(m_mem->write_obj(kVcpuArgGpa, sst));
        m_platform->handle(0, hv::Hypercall{__HYPERVISOR_vcpu_op, {VCPUOP_set_singleshot_timer, 0, kVcpuArgGpa, 0, 0},
                                            &result});
        return static_cast<int64_t>(result);
    }
    /// Xen system time as the guest reads it (the runstate area's state_entry_time).
    uint64_t now_ns() {
        vcpu_register_runstate_memory_area_t area{};
        area.addr.p = kArgGpa + 0x800;
        uint64_t result = 0;
        EXPECT_TRUE(m_mem->write_obj(kVcpuArgGpa + 0x100, area));
        m_platform->handle(0, hv::Hypercall{__HYPERVISOR_vcpu_op,
                                            {VCPUOP_register_runstate_memory_area, 0, kVcpuArgGpa + 0x100, 0, 0},
                                            &result});
        return m_mem->read_obj<vcpu_runstate_info_t>(kArgGpa + 0x800)->state_entry_time;
    }

    FakeVm m_vm;
    IdentityVcpu m_vcpu;
    vmm::VmLifecycle m_life;
    std::unique_ptr<memory::GuestMemory> m_mem;
    std::unique_ptr<vmm::XenPlatform> m_platform;
};

TEST_F(XenPlatformTimerTest, TimerReArmedFromTheUpcallKeepsFiring) {
    // shared_info in guest RAM, the callback vector, VIRQ_TIMER bound and unmasked.
    xen_add_to_physmap_t map{};
    map.domid = DOMID_SELF;
    map.space = XENMAPSPACE_shared_info;
    map.gpfn = kSharedInfoGpa >> 12;
    ASSERT_EQ(call(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, map), 0);
    xen_hvm_param_t param{};
    param.domid = DOMID_SELF;
    param.index = HVM_PARAM_CALLBACK_IRQ;
    param.value = (uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | kVector;
    ASSERT_EQ(call(__HYPERVISOR_hvm_op, HVMOP_set_param, param), 0);
    evtchn_bind_virq_t bind{};
    bind.virq = VIRQ_TIMER;
    ASSERT_EQ(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, bind, kArgGpa, &bind), 0);
    const evtchn_port_t port = bind.port;
    ASSERT_GT(port, 0u);

    // The guest's upcall, on the injecting thread: take the event (flag, selector, pending bit),
    // count it, and arm the next deadline 1 ms ahead - while the timer thread is mid-raise.
    auto* shared = reinterpret_cast<shared_info_t*>(m_mem->host_ptr(kSharedInfoGpa, sizeof(shared_info_t)));
    ASSERT_NE(shared, nullptr);
    std::atomic<int> events{0};
    m_vm.on_inject = [&](int vcpu, uint8_t vector) {
        EXPECT_EQ(vcpu, 0);
        EXPECT_EQ(vector, kVector);
        vcpu_info_t& vi = shared->vcpu_info[0];
        __atomic_store_n(&vi.evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
        __atomic_exchange_n(&vi.evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
        const xen_ulong_t bit = xen_ulong_t{1} << (port % 64);
        if ((__atomic_fetch_and(&shared->evtchn_pending[port / 64], ~bit, __ATOMIC_SEQ_CST) & bit) == 0) return;
        if (++events < 20) {
            EXPECT_EQ(arm(now_ns() + 1'000'000), 0);
        }
    };
    ASSERT_EQ(arm(now_ns() + 1'000'000), 0);
    for (int i = 0; i < 200 && events < 20; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(events.load(), 20) << "the timer stopped after " << events << " events";
}

}  // namespace
