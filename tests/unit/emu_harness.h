#pragma once
/// Test harness for the own engine: a small machine (4 MiB RAM, no interrupt platform) with
/// long-mode page tables, GDT, IDT and TSS, into which tests write machine code and run it
/// until HLT (hv::Halt) or an I/O exit.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "emu/cpu.h"

namespace popek::emu::test {

// Layout of the test machine (guest-physical = linear, identity mapped).
inline constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt = 0x4000;
inline constexpr uint64_t kReport = 0x7000;   ///< handlers store error code, CR2, RIP, flag here
inline constexpr uint64_t kGdt = 0x8000, kIdt = 0x9000, kTss = 0xa000;
inline constexpr uint64_t kHandlerErr = 0xb000, kHandlerNoErr = 0xb100;
inline constexpr uint64_t kCode = 0x10000, kStackTop = 0x80000;
/// 4 KiB-mapped window [kPtBase, kPtBase + 2 MiB) through the page table at kPt.
inline constexpr uint64_t kPtBase = 0x200000;

// GDT selectors.
inline constexpr uint16_t kCode64 = 0x08, kData = 0x10, kCode32 = 0x18, kUserData = 0x23, kUserCode64 = 0x2b,
                          kTssSel = 0x30;

class EmuHarness {
public:
    /// `interrupts`: the interrupt platform of the vCPU (none by default).
    explicit EmuHarness(CpuInterrupts* interrupts = nullptr);
    void write(uint64_t gpa, const std::vector<uint8_t>& bytes);
    template <class T> T read(uint64_t gpa) { return *m_mem->read_obj<T>(gpa); }
    template <class T> void poke(uint64_t gpa, T v) { (void)m_mem->write_obj<T>(gpa, v); }
    /// 64-bit mode, CPL 0, paging on (WP, NXE), every vector routed to the report handlers.
    void setup_long_mode();
    /// `--accel bt` with every block translated on its first run (`translate`: else interpreted).
    void use_translator(bool translate = true) {
        if (!translate) return;
        m_cpu->shared().translate_after = 0;
        m_cpu->enable_translation();
    }
    /// 32-bit flat protected mode without paging.
    void setup_protected32();
    /// Real mode, CS=DS=SS=0.
    void setup_real();
    /// Places `code` at kCode and sets RIP there.
    void load_code(const std::vector<uint8_t>& code);
    void set_gate(int vector, uint64_t handler, int dpl = 0, int ist = 0);
    /// Page-table entry of the 4 KiB page at linear `la` (inside the kPtBase window).
    void set_pte(uint64_t la, uint64_t entry);
    hv::VcpuExit run() { return m_cpu->execute(); }
    /// Another vCPU (index `index`) on the same RAM and code map, in the state of the first one.
    std::unique_ptr<Cpu> another_cpu(int index);
    Cpu& cpu() { return *m_cpu; }
    memory::GuestMemory& mem() { return *m_mem; }
    bool reported() { return read<uint64_t>(kReport + 0x18) == 1; }
    uint64_t reported_error() { return read<uint64_t>(kReport); }
    uint64_t reported_cr2() { return read<uint64_t>(kReport + 8); }
    uint64_t reported_rip() { return read<uint64_t>(kReport + 0x10); }

private:
    std::unique_ptr<memory::GuestMemory> m_mem;
    std::unique_ptr<EngineShared> m_shared;
    std::unique_ptr<Cpu> m_cpu;
};

inline bool is_halt(const hv::VcpuExit& e) { return std::holds_alternative<hv::Halt>(e); }

/// Fixture for snippets run in 64-bit mode at CPL0 until HLT.
class EmuLongModeTest : public ::testing::Test {
protected:
    void SetUp() override { h.setup_long_mode(); }
    /// Runs `code` to its HLT and expects no exception on the way.
    void run(const std::vector<uint8_t>& code) {
        h.load_code(code);
        auto exit = h.run();
        ASSERT_TRUE(is_halt(exit)) << "exit index " << exit.index();
        ASSERT_FALSE(h.reported()) << "unexpected exception, rip " << std::hex << h.reported_rip();
    }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    EmuHarness h;
};

}  // namespace popek::emu::test
