// An exit handled by register-only devices (bus::Device::writes_guest_ram() false) leaves the
// engine's decoded and translated code trusted: no DMA epoch, no unlinking of chained jumps.
// Any other exit still makes the engine re-verify code the VMM may have rewritten.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "arch/x86_64/boot_cpu.h"
#include "bus/bus.h"
#include "emu/cpu.h"
#include "hv/interp/interp_hypervisor.h"
#include "hv/interp/interp_vcpu.h"
#include "vmm/exit_dispatcher.h"

namespace popek {
namespace {

class Registers final : public bus::Device {
public:
    std::string_view name() const override { return "registers"; }
    void read(uint64_t, std::span<uint8_t> d) override { std::fill(d.begin(), d.end(), uint8_t{0}); }
    bool writes_guest_ram() const override { return false; }
    void write(uint64_t, std::span<const uint8_t>) override {}
};

class Dma final : public bus::Device {
public:
    std::string_view name() const override { return "dma"; }
    void read(uint64_t, std::span<uint8_t> d) override { std::fill(d.begin(), d.end(), uint8_t{0}); }
    void write(uint64_t, std::span<const uint8_t>) override {}
};

TEST(ExitRamWrites, TheDispatcherSaysWhichExitsMayHaveWrittenRam) {
    bus::Bus pio, mmio;
    ASSERT_TRUE(pio.insert({0x80, 1}, std::make_shared<Registers>()));
    ASSERT_TRUE(pio.insert({0x90, 1}, std::make_shared<Dma>()));
    ASSERT_TRUE(mmio.insert({0xd0000000, 0x1000}, std::make_shared<Registers>()));
    ASSERT_TRUE(mmio.insert({0xd0001000, 0x1000}, std::make_shared<Dma>()));
    vmm::ExitDispatcher d(pio, mmio);
    uint8_t byte = 0;
    std::array<uint8_t, 4> word{};
    const auto ram = [&](const hv::VcpuExit& e) {
        bool may = false;
        EXPECT_TRUE(d.dispatch(0, e, &may));
        return may;
    };
    EXPECT_FALSE(ram(hv::PioOut{0x80, 1, std::span<const uint8_t>(&byte, 1)}));
    EXPECT_FALSE(ram(hv::PioIn{0x80, 1, std::span<uint8_t>(&byte, 1)}));
    EXPECT_TRUE(ram(hv::PioOut{0x90, 1, std::span<const uint8_t>(&byte, 1)}));
    EXPECT_TRUE(ram(hv::PioIn{0x90, 1, std::span<uint8_t>(&byte, 1)}));
    EXPECT_FALSE(ram(hv::MmioWrite{0xd0000010, word}));
    EXPECT_FALSE(ram(hv::MmioRead{0xd0000010, word}));
    EXPECT_TRUE(ram(hv::MmioWrite{0xd0001010, word}));
    EXPECT_FALSE(ram(hv::PioOut{0x123, 1, std::span<const uint8_t>(&byte, 1)})) << "unclaimed: nobody wrote";
    uint64_t result = 0;
    EXPECT_FALSE(ram(hv::Hypercall{1, {}, &result})) << "nobody handles it: -ENOSYS, nothing written";
    d.set_hypercall_handler([](int, const hv::Hypercall&) { return uint64_t{0}; });
    EXPECT_TRUE(ram(hv::Hypercall{1, {}, &result})) << "a hypercall may write anything";
    d.set_hypercall_handler([](int, const hv::Hypercall&) { return uint64_t{0}; }, true);
    EXPECT_FALSE(ram(hv::Hypercall{1, {}, &result})) << "a handler that reports its writes (popek's Xen side)";
    EXPECT_TRUE(pio.may_write_ram(0x90));
    EXPECT_FALSE(pio.may_write_ram(0x80));
}

// 32-bit flat code, all on one page so that blocks chain: ECX passes of "jump to the block at
// 0x1100 (mov eax, imm32; jmp back), add esi, eax, out 0x80, al".
std::vector<uint8_t> guest_code() {
    std::vector<uint8_t> code(0x110, 0x90);
    const uint8_t head[] = {0xb9, 0x64, 0x00, 0x00, 0x00,   // 1000: mov ecx, 100
                            0x31, 0xf6,                     // 1005: xor esi, esi
                            0xe9, 0xf4, 0x00, 0x00, 0x00,   // 1007: jmp 0x1100
                            0x01, 0xc6,                     // 100c: add esi, eax
                            0xe6, 0x80,                     // 100e: out 0x80, al
                            0x49,                           // 1010: dec ecx
                            0x75, 0xf4,                     // 1011: jnz 0x1007
                            0xf4};                          // 1013: hlt
    std::memcpy(code.data(), head, sizeof head);
    const uint8_t callee[] = {0xb8, 0x01, 0x00, 0x00, 0x00,   // 1100: mov eax, 1
                              0xe9, 0x02, 0xff, 0xff, 0xff};  // 1105: jmp 0x100c
    std::memcpy(code.data() + 0x100, callee, sizeof callee);
    return code;
}

struct GuestRun {
    uint64_t esi = 0;
    uint64_t epoch_moves = 0;
};

/// How the "VMM" rewrites the callee's immediate during the 60th OUT (1 -> 3), if at all.
enum class Rewrite {
    None,
    Unreported,   ///< and says nothing: the exit is not claimed to have written no RAM
    AsDevice,     ///< reported as a device's DMA (hv::Vm::device_wrote_ram), exit claimed no-RAM
};

/// Runs the guest to its HLT; at every OUT the "VMM" says the exit wrote no RAM when
/// `claim_no_ram` is true (and it wrote nothing unreported).
GuestRun run_guest(bool bt, bool claim_no_ram, Rewrite rewrite = Rewrite::None) {
    auto hyp = bt ? hv::interp::open_bt() : hv::interp::open_interp();
    EXPECT_TRUE(hyp);
    auto v = (*hyp)->create_vm(hv::VmConfig{});
    EXPECT_TRUE(v);
    auto m = memory::GuestMemory::create(1 << 20);
    EXPECT_TRUE(m);
    EXPECT_TRUE((*v)->set_memory(*m));
    EXPECT_TRUE(m->write(0x1000, guest_code()));
    auto c = (*v)->create_vcpu(0);
    EXPECT_TRUE(c);
    hv::Vcpu& vcpu = **c;
    EXPECT_TRUE(vcpu.set_state(arch::protected_mode_flat_state(0x1000)));
    auto& shared = dynamic_cast<hv::interp::InterpVcpu&>(vcpu).cpu().shared();
    GuestRun r;
    for (int outs = 0; outs < 200;) {
        const uint64_t before = shared.dma_epoch.load();
        auto e = vcpu.run();
        EXPECT_TRUE(e);
        if (!e) break;
        if (shared.dma_epoch.load() != before) ++r.epoch_moves;
        if (std::holds_alternative<hv::Halt>(*e)) break;
        EXPECT_TRUE(std::holds_alternative<hv::PioOut>(*e));
        if (!std::holds_alternative<hv::PioOut>(*e)) break;
        ++outs;
        const bool write_now = rewrite != Rewrite::None && outs == 60;
        if (write_now) {
            EXPECT_TRUE(m->write_obj<uint32_t>(0x1101, 3));
        }
        if (write_now && rewrite == Rewrite::AsDevice) (*v)->device_wrote_ram(0x1101, 4);
        if (claim_no_ram && !(write_now && rewrite == Rewrite::Unreported)) vcpu.exit_wrote_no_ram();
    }
    auto st = vcpu.get_state();
    EXPECT_TRUE(st);
    if (st) r.esi = st->gpr[6];
    return r;
}

class ExitRamEngines : public ::testing::TestWithParam<bool> {};

TEST_P(ExitRamEngines, AnExitThatWroteNoRamLeavesTheCodeTrusted) {
    const GuestRun plain = run_guest(GetParam(), false);
    const GuestRun claimed = run_guest(GetParam(), true);
    EXPECT_EQ(plain.esi, 100u);
    EXPECT_EQ(claimed.esi, 100u);
    EXPECT_GE(plain.epoch_moves, 99u) << "every I/O exit may have been DMA";
    EXPECT_EQ(claimed.epoch_moves, 0u) << "register-only exits moved the DMA epoch";
}

TEST_P(ExitRamEngines, CodeTheVmmRewroteInAnExitIsSeenAtOnce) {
    // Passes 1-60 add 1 (the rewrite happens during the 60th OUT), passes 61-100 add 3.
    const GuestRun r = run_guest(GetParam(), true, Rewrite::Unreported);
    EXPECT_EQ(r.esi, 60u + 40u * 3u);
    EXPECT_EQ(r.epoch_moves, 1u);
}

TEST_P(ExitRamEngines, CodeADeviceReportedWritingIsSeenWithoutTheDmaEpoch) {
    // A device that reports its RAM writes (virtio's chains and used rings) invalidates just the
    // code pages it wrote; the exit itself then counts as register-only.
    const GuestRun r = run_guest(GetParam(), true, Rewrite::AsDevice);
    EXPECT_EQ(r.esi, 60u + 40u * 3u);
    EXPECT_EQ(r.epoch_moves, 0u);
}

TEST(ExitRamWrites, ADeviceWriteOutsideCodeLeavesEveryVcpuAlone) {
    auto hyp = hv::interp::open_bt();
    ASSERT_TRUE(hyp);
    auto v = (*hyp)->create_vm(hv::VmConfig{});
    ASSERT_TRUE(v);
    auto m = memory::GuestMemory::create(1 << 20);
    ASSERT_TRUE(m);
    ASSERT_TRUE((*v)->set_memory(*m));
    ASSERT_TRUE(m->write(0x1000, guest_code()));
    auto c = (*v)->create_vcpu(0);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->set_state(arch::protected_mode_flat_state(0x1000)));
    ASSERT_TRUE((*c)->run());   // the first OUT: page 0x1000 now holds decoded code
    emu::Cpu& cpu = dynamic_cast<hv::interp::InterpVcpu&>(**c).cpu();
    cpu.attention.store(false);
    (*v)->device_wrote_ram(0x8000, 0x2000);   // data pages
    EXPECT_FALSE(cpu.attention.load());
    EXPECT_TRUE(cpu.shared().code.is_code(0x1000));
    (*v)->device_wrote_ram(0x1ff0, 0x20);     // its last bytes: the code page is dropped
    EXPECT_TRUE(cpu.attention.load());
    EXPECT_FALSE(cpu.shared().code.is_code(0x1000));
    (*v)->device_wrote_ram(0xfffff000, 0);    // nothing written, nothing to do
}

INSTANTIATE_TEST_SUITE_P(InterpAndBt, ExitRamEngines, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "bt" : "interp"; });

}  // namespace
}  // namespace popek

namespace popek {
namespace {

TEST(ExitRamWrites, AnEventChannelUpcallLeavesDecodedCodeTrusted) {
    // Xen back ends report every guest RAM write (pv::RamWrites -> device_wrote_ram), so their
    // event needs no DMA epoch (tests/unit/xen_ram_writes_test.cpp runs the guest-visible case).
    auto hyp = hv::interp::open_bt();
    ASSERT_TRUE(hyp);
    auto v = (*hyp)->create_vm(hv::VmConfig{1, true});
    ASSERT_TRUE(v);
    auto m = memory::GuestMemory::create(1 << 20);
    ASSERT_TRUE(m);
    ASSERT_TRUE((*v)->set_memory(*m));
    auto c = (*v)->create_vcpu(0);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->set_state(arch::protected_mode_flat_state(0x1000)));
    auto& shared = dynamic_cast<hv::interp::InterpVcpu&>(**c).cpu().shared();
    const uint64_t before = shared.dma_epoch.load();
    (void)(*v)->inject_vector(0, 0xf3);
    EXPECT_EQ(shared.dma_epoch.load(), before);
}

}  // namespace
}  // namespace popek
