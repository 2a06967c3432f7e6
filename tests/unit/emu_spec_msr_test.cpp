/// The own engine's speculation-control interface (SDM Vol. 4 table 2-2; CPUID.(7,0):EDX bits 26
/// and 29): IA32_ARCH_CAPABILITIES reports no speculative-execution flaw (so Linux turns off KPTI,
/// retpolines and return thunks, which gain nothing on an emulated CPU and cost the engine its
/// global TLB entries and twice the blocks per call), IA32_SPEC_CTRL keeps its three defined
/// bits, IA32_PRED_CMD is write-only, and reserved bits raise #GP.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

class EmuSpecMsr : public EmuLongModeTest {
protected:
    void run_snippet(const SnippetEmit& emit) {
        h.cpu().shared().dma_epoch.fetch_add(1);   // new code at kCode: the engine re-verifies
        run(assemble_with_hlt(emit));
    }
    /// Runs `emit` expecting #GP (the harness's handler reports it).
    bool faults_gp(const SnippetEmit& emit) {
        h.set_gate(kGp, kHandlerErr);
        h.load_code(assemble_with_hlt(emit));
        h.cpu().shared().dma_epoch.fetch_add(1);
        h.poke<uint64_t>(kReport + 0x18, 0);
        auto exit = h.run();
        return is_halt(exit) && h.reported();
    }
};

TEST_F(EmuSpecMsr, CpuidAdvertisesSpecCtrlAndArchCapabilities) {
    run_snippet([](G& g) {
        g.mov(eax, 7);
        g.xor_(ecx, ecx);
        g.cpuid();
        g.mov(r8d, edx);
    });
    EXPECT_TRUE(r(hv::R8) & (1u << 26)) << "IBRS/IBPB (IA32_SPEC_CTRL, IA32_PRED_CMD)";
    EXPECT_TRUE(r(hv::R8) & (1u << 29)) << "IA32_ARCH_CAPABILITIES";
}

TEST_F(EmuSpecMsr, ArchCapabilitiesSayNotVulnerable) {
    run_snippet([](G& g) {
        g.mov(ecx, 0x10a);
        g.rdmsr();
    });
    const uint64_t caps = (r(hv::RDX) << 32) | (r(hv::RAX) & 0xffffffffu);
    for (unsigned bit : {0u /*RDCL_NO*/, 1u /*IBRS_ALL*/, 4u /*SSB_NO*/, 5u /*MDS_NO*/, 8u /*TAA_NO*/,
                         20u /*BHI_NO*/, 26u /*GDS_NO*/, 27u /*RFDS_NO*/, 62u /*ITS_NO*/})
        EXPECT_TRUE(caps & (1ULL << bit)) << "bit " << bit;
    EXPECT_FALSE(caps & (1ULL << 2)) << "RSBA: not set (would ask for RSB filling)";
    EXPECT_TRUE(faults_gp([](G& g) {
        g.mov(ecx, 0x10a);
        g.xor_(eax, eax);
        g.xor_(edx, edx);
        g.wrmsr();
    })) << "IA32_ARCH_CAPABILITIES is read-only";
}

TEST_F(EmuSpecMsr, SpecCtrlKeepsItsBitsAndPredCmdIsWriteOnly) {
    run_snippet([](G& g) {
        g.mov(ecx, 0x48);
        g.mov(eax, 5);   // IBRS | SSBD
        g.xor_(edx, edx);
        g.wrmsr();
        g.xor_(eax, eax);
        g.rdmsr();
        g.mov(r8d, eax);
        g.mov(ecx, 0x49);
        g.mov(eax, 1);   // IBPB
        g.wrmsr();
    });
    EXPECT_EQ(r(hv::R8), 5u);
    EXPECT_TRUE(faults_gp([](G& g) {
        g.mov(ecx, 0x48);
        g.mov(eax, 8);   // reserved
        g.xor_(edx, edx);
        g.wrmsr();
    }));
    EXPECT_TRUE(faults_gp([](G& g) {
        g.mov(ecx, 0x49);
        g.rdmsr();
    })) << "IA32_PRED_CMD cannot be read";
    EXPECT_TRUE(faults_gp([](G& g) {
        g.mov(ecx, 0x49);
        g.mov(eax, 2);
        g.xor_(edx, edx);
        g.wrmsr();
    }));
}

}  // namespace
}  // namespace popek::emu::test
