// VCPUOP_initialise and VCPUOP_up for an HVM/PVH guest (src/pv/vcpu_context.*,
// src/pv/hypercalls_vcpu.cpp): Xen's checks of a vcpu_hvm_context, the state it becomes, and the
// hypercalls' error codes (XTF xsa-472-3 starts its APs this way).
#include <gtest/gtest.h>

#include <vector>

#include "pv/hypercalls.h"
#include "pv/vcpu_context.h"

using namespace popek;
using namespace popek::pv;

namespace {

/// What XTF's xsa-472-3 passes: 32-bit flat protected mode, as the BSP.
vcpu_hvm_context_t xtf_context() {
    vcpu_hvm_context_t c{};
    c.mode = VCPU_HVM_MODE_32B;
    auto& r = c.cpu_regs.x86_32;
    r.eip = 0x104000;
    r.esp = 0x120000;
    r.cr0 = 0x80000011;   // PE ET PG
    r.cr3 = 0x200000;
    r.cr4 = 0x10;         // PSE
    r.cs_limit = r.ds_limit = r.ss_limit = r.es_limit = ~0u;
    r.tr_limit = 0x67;
    r.cs_ar = 0xc9b;
    r.ds_ar = r.ss_ar = r.es_ar = 0xc93;
    r.tr_ar = 0x08b;
    return c;
}

TEST(VcpuContext, TheXtfContextBecomesFlat32BitProtectedMode) {
    auto st = hvm_context_to_state(xtf_context());
    ASSERT_TRUE(st.has_value()) << st.error();
    EXPECT_EQ(st->rip, 0x104000u);
    EXPECT_EQ(st->gpr[hv::RSP], 0x120000u);
    EXPECT_EQ(st->cr0, 0x80000011u);
    EXPECT_EQ(st->cr3, 0x200000u);
    EXPECT_EQ(st->rflags, 2u) << "the must-be-one bit";
    EXPECT_EQ(st->cs.type, 0xb);
    EXPECT_TRUE(st->cs.s && st->cs.present && st->cs.db && st->cs.g);
    EXPECT_FALSE(st->cs.l);
    EXPECT_EQ(st->cs.limit, 0xffffffffu);
    EXPECT_EQ(st->ss.type, 0x3);
    EXPECT_EQ(st->tr.type, 0xb);
    EXPECT_FALSE(st->tr.s);
    EXPECT_EQ(st->tr.limit, 0x67u);
    EXPECT_EQ(st->efer, 0u);
    EXPECT_EQ(st->idt.limit, 0xffff) << "not named: its INIT value";
}

TEST(VcpuContext, A64BitContextGetsXensFlatLongModeSegments) {
    vcpu_hvm_context_t c{};
    c.mode = VCPU_HVM_MODE_64B;
    auto& r = c.cpu_regs.x86_64;
    r.rip = 0xffffffff81000000ull;
    r.cr0 = 0x80000011;
    r.cr4 = 0x20;   // PAE
    r.efer = hv::kEferLme;
    r.rflags = ~0ull;
    auto st = hvm_context_to_state(c);
    ASSERT_TRUE(st.has_value()) << st.error();
    EXPECT_EQ(st->efer, hv::kEferLme | hv::kEferLma) << "LMA follows LME";
    EXPECT_TRUE(st->cs.l);
    EXPECT_FALSE(st->cs.db);
    EXPECT_EQ(st->ds.type, 0x3);
    EXPECT_EQ(st->rflags, 0x3f7fd7u) << "only the architectural flags";
}

TEST(VcpuContext, WhatXenRefusesIsEinval) {
    auto refused = [](auto mutate) {
        vcpu_hvm_context_t c = xtf_context();
        mutate(c);
        auto st = hvm_context_to_state(c);
        return !st && st.error() == EINVAL;
    };
    EXPECT_TRUE(refused([](auto& c) { c.mode = 2; }));
    EXPECT_TRUE(refused([](auto& c) { c.pad = 1; }));
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.pad1 = 1; }));
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.pad2[2] = 1; }));
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.cs_ar = 0x1c9b; })) << "attribute bits 12-15";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.cs_ar = 0; })) << "null CS";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.ss_ar = 0; })) << "null SS";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.tr_ar = 0; })) << "null TR";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.cs_ar = 0xc93; })) << "CS not code";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.cs_ar = 0xc0b; })) << "CS a system segment";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.cs_ar = 0xc1b; })) << "CS not present";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.ss_ar = 0xc91; })) << "SS read-only";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.ds_ar = 0xc99; })) << "DS execute-only";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.tr_ar = 0x081; })) << "TR a 16-bit TSS";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.tr_ar = 0x093; })) << "TR a data segment";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.ss_ar = 0xcf3; })) << "SS.DPL != CS.DPL";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.ds_ar = 0xcf3; })) << "DS.DPL > CS.DPL";
    EXPECT_TRUE(refused([](auto& c) {
        c.cpu_regs.x86_32.cs_ar = 0x49b;   // byte granular
        c.cpu_regs.x86_32.cs_limit = 0xfff;
    })) << "EIP past the CS limit";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.efer = hv::kEferLma; })) << "LMA without LME";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.cr4 = 1u << 13; })) << "CR4.VMXE";
    EXPECT_TRUE(refused([](auto& c) { c.cpu_regs.x86_32.efer = 1u << 12; })) << "EFER.SVME";
    // 64-bit mode's own checks.
    auto refused64 = [](uint64_t rip, uint64_t cr0, uint64_t cr4, uint64_t efer) {
        vcpu_hvm_context_t c{};
        c.mode = VCPU_HVM_MODE_64B;
        c.cpu_regs.x86_64.rip = rip;
        c.cpu_regs.x86_64.cr0 = cr0;
        c.cpu_regs.x86_64.cr4 = cr4;
        c.cpu_regs.x86_64.efer = efer;
        auto st = hvm_context_to_state(c);
        return !st && st.error() == EINVAL;
    };
    EXPECT_FALSE(refused64(0x1000, 0x80000011, 0x20, hv::kEferLme));
    EXPECT_TRUE(refused64(0x0000800000000000ull, 0x80000011, 0x20, hv::kEferLme)) << "non-canonical RIP";
    EXPECT_TRUE(refused64(0x1000, 0x11, 0x20, hv::kEferLme)) << "no paging";
    EXPECT_TRUE(refused64(0x1000, 0x80000011, 0, hv::kEferLme)) << "no PAE";
    EXPECT_TRUE(refused64(0x1000, 0x80000011, 0x20, 0)) << "no LME";
    // Null DS and ES are fine (unusable).
    vcpu_hvm_context_t c = xtf_context();
    c.cpu_regs.x86_32.ds_ar = c.cpu_regs.x86_32.es_ar = 0;
    auto st = hvm_context_to_state(c);
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(st->ds.unusable);
}

constexpr uint64_t kArg = 0x8000;

struct VcpuUpFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    PvDomain dom{mem, PvDomainConfig{.domid = 1, .name = "t", .vcpus = 3, .memory_bytes = 1 << 20, .store_quota = {}},
                 [](int) {}};
    std::vector<std::pair<int, hv::CpuState>> started;
    bool engine_can_start = true;
    int running_by_sipi = -1;
    Hypercalls hc{dom, {}, HypercallHooks{
        .shutdown = {},
        .yield = {},
        .block = {},
        .poll = {},
        .set_timer = {},
        .now_ns = {},
        .console_write = {},
        .map_outside_ram = {},
        .start_vcpu = [this](int v, const hv::CpuState& s) {
            if (!engine_can_start) return false;
            started.emplace_back(v, s);
            return true;
        },
        .vcpu_running = [this](int v) { return v == running_by_sipi; },
        .trace = {},
    }};

    int64_t vcpu_op(uint64_t cmd, uint64_t target, uint64_t arg = kArg) {
        uint64_t result = 0;
        hv::Hypercall h{__HYPERVISOR_vcpu_op, {cmd, target, arg, 0, 0}, &result};
        return static_cast<int64_t>(hc.handle(0, h));
    }
    void put(const vcpu_hvm_context_t& c) { ASSERT_TRUE(mem.write_obj(kArg, c)); }
};

TEST_F(VcpuUpFixture, InitialiseThenUpStartsTheVcpuAtItsContext) {
    put(xtf_context());
    EXPECT_EQ(vcpu_op(VCPUOP_up, 1), -EINVAL) << "not initialised";
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 1), 0);
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 1), -EEXIST) << "initialised already";
    EXPECT_TRUE(started.empty()) << "initialise does not start it";
    EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);
    EXPECT_EQ(vcpu_op(VCPUOP_up, 1), 0);
    ASSERT_EQ(started.size(), 1u);
    EXPECT_EQ(started[0].first, 1);
    EXPECT_EQ(started[0].second.rip, 0x104000u);
    EXPECT_EQ(started[0].second.gpr[hv::RSP], 0x120000u);
    EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 1);
    EXPECT_EQ(vcpu_op(VCPUOP_up, 1), 0) << "up already: nothing to do";
    EXPECT_EQ(started.size(), 1u);
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 1), -EEXIST);
}

TEST_F(VcpuUpFixture, XensErrorCodes) {
    put(xtf_context());
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 3), -ENOENT) << "no such vCPU";
    EXPECT_EQ(vcpu_op(VCPUOP_up, 1ull << 32), -ENOENT);
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 0), -EEXIST) << "the BSP";
    EXPECT_EQ(vcpu_op(VCPUOP_up, 0), 0);
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 1, 1ull << 40), -EFAULT);
    vcpu_hvm_context_t bad = xtf_context();
    bad.mode = 7;
    put(bad);
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 1), -EINVAL);
    EXPECT_EQ(vcpu_op(VCPUOP_up, 1), -EINVAL) << "a refused context initialises nothing";
    running_by_sipi = 2;
    put(xtf_context());
    EXPECT_EQ(vcpu_op(VCPUOP_initialise, 2), -EEXIST) << "started by INIT/SIPI";
    EXPECT_EQ(vcpu_op(VCPUOP_up, 2), 0);
    EXPECT_TRUE(started.empty());
}

TEST_F(VcpuUpFixture, AnEngineThatCannotStartItIsEnosys) {
    engine_can_start = false;
    put(xtf_context());
    ASSERT_EQ(vcpu_op(VCPUOP_initialise, 1), 0);
    EXPECT_EQ(vcpu_op(VCPUOP_up, 1), -ENOSYS);
    EXPECT_EQ(vcpu_op(VCPUOP_is_up, 1), 0);
}

}  // namespace

// The engine side (hv::Vcpu::start_from on the own engine): an AP waiting for INIT/SIPI starts at
// the state another thread hands it; a vCPU running already ignores it.
#include <chrono>
#include <future>
#include <thread>

#include "arch/x86_64/boot_cpu.h"
#include "interp_vm_harness.h"

namespace popek::emu::test {
namespace {

TEST(InterpStartFrom, AnApWaitingForSipiStartsAtTheStateAndARunningVcpuIgnoresIt) {
    // 0x1000: mov $0x42,%ebx; out %al,$0x80      0x1010: mov $0x99,%ebx; out %al,$0x80
    std::vector<uint8_t> code(0x20, 0x90);
    const uint8_t a[] = {0xbb, 0x42, 0x00, 0x00, 0x00, 0xe6, 0x80};
    const uint8_t b[] = {0xbb, 0x99, 0x00, 0x00, 0x00, 0xe6, 0x80};
    std::copy(std::begin(a), std::end(a), code.begin());
    std::copy(std::begin(b), std::end(b), code.begin() + 0x10);
    ProtectedModeVm vm(2, 1, true, code);
    auto ap = std::async(std::launch::async, [&] { return vm.run(1); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));   // the AP sleeps, waiting for SIPI
    ASSERT_TRUE(vm.cpus[1]->start_from(arch::protected_mode_flat_state(0x1010)));
    if (ap.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        vm.cpus[1]->request_stop();
        ap.wait();
        FAIL() << "the AP did not start";
    }
    EXPECT_TRUE(std::holds_alternative<hv::PioOut>(ap.get()));
    EXPECT_EQ(vm.gpr(1, hv::RBX), 0x99u);
    // vCPU 0 was given its state (it runs): a later start_from is not taken.
    ASSERT_TRUE(vm.cpus[0]->start_from(arch::protected_mode_flat_state(0x1010)));
    EXPECT_TRUE(std::holds_alternative<hv::PioOut>(vm.run(0)));
    EXPECT_EQ(vm.gpr(0, hv::RBX), 0x42u);
}

}  // namespace
}  // namespace popek::emu::test
