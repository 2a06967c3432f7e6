/// Hardware task switches outside long mode (SDM Vol. 3A 7.3): JMP and CALL to a TSS or task gate,
/// an exception through a task gate, IRET with NT = 1, a task in virtual-8086 mode and its INT n
/// to a ring-0 handler (SDM Vol. 3A 20.3.1.1). XTF nmi-taskswitch-priv and xsa-192 need these.
/// Interp and bt alike.
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kVectorSlot = 0x7000;   ///< the handlers store their vector here
/// 32 bytes per vector: mov ax, kData; mov es, ax; movl $v, %es:kVectorSlot; hlt (ES: an
/// interrupt from virtual-8086 mode arrives with DS ES FS GS null).
constexpr uint64_t kHandlers32 = 0xc000;
constexpr uint64_t kTssA = 0xa000, kTssB = 0xa100, kTssV = 0xa200;   ///< current, other, vm86
constexpr uint16_t kSelA = 0x30, kSelB = 0x38, kSelV = 0x40, kGateB = 0x48;
constexpr uint64_t kTaskCode = 0x11000, kTaskStack = 0x60000, kVm86Code = 0x1000;
/// 32-bit TSS offsets (SDM Vol. 3A figure 7-2).
constexpr uint64_t kLink = 0, kEsp0 = 4, kSs0 = 8, kEip = 0x20, kEflags = 0x24, kEax = 0x28, kEcx = 0x2c,
                   kEbx = 0x34, kEsp = 0x38, kEs = 0x48, kCsOff = 0x4c, kSsOff = 0x50, kDsOff = 0x54,
                   kFsOff = 0x58, kGsOff = 0x5c;

/// A 32-bit TSS descriptor (SDM Vol. 3A figure 7-3): limit 67h, `type` 9 available / 0xb busy.
uint64_t tss_descriptor(uint64_t base, uint8_t type) {
    return 0x67 | ((base & 0xffffff) << 16) | (uint64_t{type} << 40) | (1ULL << 47) | ((base >> 24) << 56);
}
/// A task gate (SDM Vol. 3A figure 7-6) for TSS selector `tss`.
uint64_t task_gate(uint16_t tss, uint8_t dpl = 0) {
    return (uint64_t{tss} << 16) | (0x5ULL << 40) | (uint64_t{dpl} << 45) | (1ULL << 47);
}

class EmuTaskSwitch : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_protected32();
        h.use_translator(GetParam());
        for (uint64_t v = 0; v < 64; ++v) {
            const uint64_t stub = kHandlers32 + v * 32;
            h.write(stub, {0x66, 0xb8, kData, 0, 0x8e, 0xc0, 0x26, 0xc7, 0x05, static_cast<uint8_t>(kVectorSlot), static_cast<uint8_t>(kVectorSlot >> 8), 0, 0,
                           static_cast<uint8_t>(v), 0, 0, 0, 0xf4});
            h.poke<uint64_t>(kIdt + v * 8, (stub & 0xffff) | (uint64_t{kCode32} << 16) | (0x8eULL << 40) |
                                               ((stub >> 16) << 48));
        }
        h.poke<uint32_t>(kVectorSlot, 0xffffffff);
        h.poke<uint64_t>(kGdt + kSelA, tss_descriptor(kTssA, 0xb));
        h.poke<uint64_t>(kGdt + kSelB, tss_descriptor(kTssB, 0x9));
        h.poke<uint64_t>(kGdt + kSelV, tss_descriptor(kTssV, 0x9));
        h.poke<uint64_t>(kGdt + kGateB, task_gate(kSelB));
        Cpu& c = h.cpu();
        c.gdt.limit = 0x7f;
        c.tr = c.descriptor_to_segment(kSelA, tss_descriptor(kTssA, 0xb));
        // Task B: flat ring 0 at kTaskCode, its own stack and EAX.
        h.poke<uint32_t>(kTssB + kEip, static_cast<uint32_t>(kTaskCode));
        h.poke<uint32_t>(kTssB + kEflags, 2);
        h.poke<uint32_t>(kTssB + kEax, 0xb0b0);
        h.poke<uint32_t>(kTssB + kEsp, static_cast<uint32_t>(kTaskStack));
        for (uint64_t off : {kEs, kSsOff, kDsOff, kFsOff, kGsOff}) h.poke<uint32_t>(kTssB + off, kData);
        h.poke<uint32_t>(kTssB + kCsOff, kCode32);
    }
    /// Runs `code` at kCode to a HLT; returns the vector of the exception taken, or -1.
    int run(const Bytes& code) {
        h.load_code(code);
        const hv::VcpuExit exit = h.run();
        if (const auto* err = std::get_if<hv::InternalError>(&exit)) ADD_FAILURE() << err->reason;
        EXPECT_TRUE(is_halt(exit)) << "exit index " << exit.index();
        return static_cast<int>(h.read<int32_t>(kVectorSlot));
    }
    uint8_t gdt_type(uint16_t sel) { return h.read<uint8_t>(kGdt + sel + 5) & 0xf; }
    EmuHarness h;
};

TEST_P(EmuTaskSwitch, JmpToATssSavesTheOldTaskAndLoadsTheNew) {
    h.write(kTaskCode, {0xf4});
    h.cpu().gpr[hv::RAX] = 0xa0a0;
    // mov ebx, 0x55; jmp far kSelB:0
    EXPECT_EQ(run({0xbb, 0x55, 0, 0, 0, 0xea, 0, 0, 0, 0, kSelB, 0}), -1);
    Cpu& c = h.cpu();
    EXPECT_EQ(c.rip, kTaskCode + 1);
    EXPECT_EQ(c.gpr[hv::RAX], 0xb0b0u);
    EXPECT_EQ(c.gpr[hv::RSP], kTaskStack);
    EXPECT_EQ(c.tr.selector, kSelB);
    EXPECT_EQ(c.tr.base, kTssB);
    EXPECT_TRUE(c.cr0 & hv::kCr0Ts);
    EXPECT_FALSE(c.rflags & kNt);   // JMP does not nest
    // The old task's state went to its TSS; the busy flags moved (SDM Vol. 3A 7.4 table 7-2).
    EXPECT_EQ(h.read<uint32_t>(kTssA + kEip), kCode + 12);
    EXPECT_EQ(h.read<uint32_t>(kTssA + kEax), 0xa0a0u);
    EXPECT_EQ(h.read<uint32_t>(kTssA + kEbx), 0x55u);
    EXPECT_EQ(h.read<uint32_t>(kTssA + kCsOff), kCode32);
    EXPECT_EQ(gdt_type(kSelA), 0x9);
    EXPECT_EQ(gdt_type(kSelB), 0xb);
}

TEST_P(EmuTaskSwitch, CallThroughATaskGateNestsAndIretReturns) {
    // Task B: mov eax, 0x99; iret (back to A, which resumes after its CALL).
    h.write(kTaskCode, {0xb8, 0x99, 0, 0, 0, 0xcf});
    h.cpu().gpr[hv::RAX] = 0xa0a0;
    // call far kGateB:0; mov ecx, 7; hlt
    EXPECT_EQ(run({0x9a, 0, 0, 0, 0, kGateB, 0, 0xb9, 7, 0, 0, 0, 0xf4}), -1);
    Cpu& c = h.cpu();
    EXPECT_EQ(c.gpr[hv::RCX], 7u);
    EXPECT_EQ(c.gpr[hv::RAX], 0xa0a0u);   // A's registers came back from its TSS
    EXPECT_EQ(c.tr.selector, kSelA);
    EXPECT_FALSE(c.rflags & kNt);
    EXPECT_EQ(h.read<uint16_t>(kTssB + kLink), kSelA);   // B was linked to A
    EXPECT_EQ(h.read<uint32_t>(kTssB + kEax), 0x99u);     // B's state was saved by its IRET
    EXPECT_EQ(h.read<uint32_t>(kTssB + kEip), kTaskCode + 6);
    EXPECT_FALSE(h.read<uint32_t>(kTssB + kEflags) & kNt);   // saved with NT clear
    EXPECT_EQ(gdt_type(kSelA), 0xb);   // still busy: A is running again
    EXPECT_EQ(gdt_type(kSelB), 0x9);   // IRET freed B
}

TEST_P(EmuTaskSwitch, AnExceptionThroughATaskGatePushesItsErrorCodeInTheNewTask) {
    h.poke<uint64_t>(kIdt + kGp * 8, task_gate(kSelB));
    // Task B: pop ecx (the error code); hlt
    h.write(kTaskCode, {0x59, 0xf4});
    // mov ax, 0x7ff8; mov ds, ax: a selector outside the GDT, #GP(7ff8h)
    EXPECT_EQ(run({0x66, 0xb8, 0xf8, 0x7f, 0x8e, 0xd8, 0xf4}), -1);
    Cpu& c = h.cpu();
    EXPECT_EQ(c.tr.selector, kSelB);
    EXPECT_EQ(c.gpr[hv::RCX], 0x7ff8u);
    EXPECT_EQ(c.gpr[hv::RSP], kTaskStack);
    EXPECT_TRUE(c.rflags & kNt);
    EXPECT_EQ(h.read<uint32_t>(kTssA + kEip), kCode + 4);   // the faulting MOV, to be restarted
    EXPECT_EQ(h.read<uint16_t>(kTssB + kLink), kSelA);
    EXPECT_EQ(gdt_type(kSelA), 0xb);   // the interrupted task stays busy
}

TEST_P(EmuTaskSwitch, IntNFromRing3ThroughATaskGateReadsTheNewTaskWithSupervisorRights) {
    // XTF hvm32pae nmi-taskswitch-priv: with paging on and the GDT/TSS pages supervisor-only, a
    // task switch from CPL 3 to a ring-0 task reads the new task's descriptors with supervisor
    // rights once its CS is loaded (CPL 0), before the engine has re-selected its TLB class.
    constexpr uint64_t kPd = 0x30000, kPt = 0x31000, kUserStack = 0x50000;
    constexpr uint16_t kUserCode32 = 0x53, kUserData32 = 0x5b;
    for (uint64_t i = 0; i < 1024; ++i) {
        const uint64_t page = i << 12;
        const bool user = page == kCode || page == kUserStack - 0x1000;
        h.poke<uint32_t>(kPt + i * 4, static_cast<uint32_t>(page | 0x3 | (user ? 0x4 : 0)));
    }
    h.poke<uint32_t>(kPd, static_cast<uint32_t>(kPt | 0x7));
    h.poke<uint64_t>(kGdt + 0x50, 0x00cffa000000ffffULL);   // 32-bit code, DPL 3
    h.poke<uint64_t>(kGdt + 0x58, 0x00cff2000000ffffULL);   // data, DPL 3
    h.poke<uint64_t>(kIdt + 0x40 * 8, task_gate(kSelB, 3));
    h.poke<uint32_t>(kTssB + 0x1c, static_cast<uint32_t>(kPd));   // CR3
    h.write(kTaskCode, {0xb8, 0x77, 0, 0, 0, 0xf4});             // mov eax, 0x77; hlt
    h.load_code({0xcd, 0x40});                                     // int 0x40
    Cpu& c = h.cpu();
    c.gdt.limit = 0x5f;
    c.cr3 = kPd;
    c.cr0 |= hv::kCr0Pg;
    c.seg[kCs] = c.descriptor_to_segment(kUserCode32, 0x00cffa000000ffffULL);
    for (SegReg s : {kSs, kDs, SegReg::kEs}) c.seg[s] = c.descriptor_to_segment(kUserData32, 0x00cff2000000ffffULL);
    c.gpr[hv::RSP] = kUserStack;
    c.cpl = 3;
    c.update_mode();
    const hv::VcpuExit exit = h.run();
    if (const auto* err = std::get_if<hv::InternalError>(&exit)) ADD_FAILURE() << err->reason;
    EXPECT_TRUE(is_halt(exit)) << "exit index " << exit.index();
    EXPECT_EQ(h.read<int32_t>(kVectorSlot), -1) << "an exception was taken";
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(c.tr.selector, kSelB);
    EXPECT_EQ(c.gpr[hv::RAX], 0x77u);
    EXPECT_EQ(h.read<uint32_t>(kTssA + kCsOff), kUserCode32);   // the ring-3 task was saved
}

TEST_P(EmuTaskSwitch, JmpToABusyTssIsGp) {
    // jmp far kSelA:0 (the running task)
    EXPECT_EQ(run({0xea, 0, 0, 0, 0, kSelA, 0, 0xf4}), kGp);
    EXPECT_EQ(h.read<uint32_t>(h.cpu().gpr[hv::RSP]), kSelA);   // the error code
    EXPECT_EQ(h.cpu().tr.selector, kSelA);
}

TEST_P(EmuTaskSwitch, AVirtual8086TaskTakesIntNToItsRing0Handler) {
    // The vm86 task at 0000:1000 runs `int 0x21`; the interrupt gate leads to a ring-0 handler
    // on the TSS's SS0:ESP0 with the vm86 segment registers pushed (SDM Vol. 3A 20.3.1.1).
    h.write(kVm86Code, {0xcd, 0x21});
    h.poke<uint8_t>(kIdt + 0x21 * 8 + 5, 0xee);   // gate DPL 3: INT n from CPL 3 may use it
    h.poke<uint32_t>(kTssV + kEip, static_cast<uint32_t>(kVm86Code));
    h.poke<uint32_t>(kTssV + kEflags, static_cast<uint32_t>(kVm | kIopl | 2));
    h.poke<uint32_t>(kTssV + kEsp, 0x800);
    h.poke<uint32_t>(kTssV + kDsOff, 0x1234);
    h.poke<uint32_t>(kTssV + kEsp0, static_cast<uint32_t>(kTaskStack));
    h.poke<uint32_t>(kTssV + kSs0, kData);
    // jmp far kSelV:0
    EXPECT_EQ(run({0xea, 0, 0, 0, 0, kSelV, 0, 0xf4}), 0x21);
    Cpu& c = h.cpu();
    EXPECT_EQ(c.cpl, 0);
    EXPECT_FALSE(c.rflags & kVm);
    EXPECT_TRUE(c.seg[kDs].unusable);
    const uint64_t sp = c.gpr[hv::RSP];
    EXPECT_EQ(sp, kTaskStack - 9 * 4);
    EXPECT_EQ(h.read<uint32_t>(sp), kVm86Code + 2);              // EIP after INT n
    EXPECT_EQ(h.read<uint32_t>(sp + 4), 0u);                      // CS
    EXPECT_TRUE(h.read<uint32_t>(sp + 8) & kVm);                  // EFLAGS
    EXPECT_EQ(h.read<uint32_t>(sp + 12), 0x800u);                 // ESP
    EXPECT_EQ(h.read<uint32_t>(sp + 16), 0u);                     // SS
    EXPECT_EQ(h.read<uint32_t>(sp + 20), 0u);                     // ES
    EXPECT_EQ(h.read<uint32_t>(sp + 24), 0x1234u);                // DS
}

TEST_P(EmuTaskSwitch, IntNInVirtual8086ModeBelowIopl3IsGp) {
    h.write(kVm86Code, {0xcd, 0x21});
    h.poke<uint32_t>(kTssV + kEip, static_cast<uint32_t>(kVm86Code));
    h.poke<uint32_t>(kTssV + kEflags, static_cast<uint32_t>(kVm | 2));   // IOPL 0
    h.poke<uint32_t>(kTssV + kEsp, 0x800);
    h.poke<uint32_t>(kTssV + kEsp0, static_cast<uint32_t>(kTaskStack));
    h.poke<uint32_t>(kTssV + kSs0, kData);
    EXPECT_EQ(run({0xea, 0, 0, 0, 0, kSelV, 0, 0xf4}), kGp);
    EXPECT_EQ(h.read<uint32_t>(h.cpu().gpr[hv::RSP] + 4), kVm86Code);   // the faulting INT n
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuTaskSwitch, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
