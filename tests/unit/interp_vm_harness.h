#pragma once
/// A whole interp VM (with its interrupt platform, unlike EmuHarness) for tests of what involves
/// the local APIC or several vCPUs: `code` at 0x1000, entered in 32-bit flat protected mode.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "arch/x86_64/boot_cpu.h"
#include "hv/interp/interp_hypervisor.h"

namespace popek::emu::test {

struct ProtectedModeVm {
    /// vCPU i < `started` starts at the code; the others wait for SIPI.
    ProtectedModeVm(int vcpus, int started, bool xen, const std::vector<uint8_t>& code) {
        auto hyp = hv::interp::open_interp();
        EXPECT_TRUE(hyp);
        auto v = (*hyp)->create_vm(hv::VmConfig{vcpus, xen});
        EXPECT_TRUE(v);
        vm = std::move(*v);
        auto m = memory::GuestMemory::create(1 << 20);
        EXPECT_TRUE(m);
        mem = std::make_unique<memory::GuestMemory>(std::move(*m));
        EXPECT_TRUE(vm->set_memory(*mem));
        EXPECT_TRUE(mem->write(0x1000, code));
        for (int i = 0; i < vcpus; ++i) {
            auto c = vm->create_vcpu(i);
            EXPECT_TRUE(c);
            cpus.push_back(std::move(*c));
            if (i < started) {
                EXPECT_TRUE(cpus.back()->set_state(arch::protected_mode_flat_state(0x1000)));
            }
        }
    }
    hv::VcpuExit run(int i) {
        auto e = cpus[static_cast<size_t>(i)]->run();
        EXPECT_TRUE(e);
        return e ? *e : hv::VcpuExit{hv::InternalError{"run failed"}};
    }
    uint64_t gpr(int i, int reg) {
        auto st = cpus[static_cast<size_t>(i)]->get_state();
        EXPECT_TRUE(st);
        return st ? st->gpr[static_cast<size_t>(reg)] : 0;
    }
    std::unique_ptr<memory::GuestMemory> mem;
    std::unique_ptr<hv::Vm> vm;
    std::vector<std::unique_ptr<hv::Vcpu>> cpus;
};

}  // namespace popek::emu::test
