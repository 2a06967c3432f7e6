/// The page walk's access rights beyond U/S and R/W (emu/mmu/page_walk.cpp): SMAP (SDM Vol. 3A
/// 4.6.1) with EFLAGS.AC and implicit accesses, protection keys for user pages (PKRU, CR4.PKE)
/// and supervisor pages (IA32_PKRS, CR4.PKS) with CR0.WP (4.6.2), the #PF error codes with the
/// PK bit (4.7), and what the TLB may cache of a walk (never more than the walk allows).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "emu/mmu/mmu.h"
#include "hv/cpu_state.h"
#include "memory/guest_memory.h"

namespace popek::emu {
namespace {

constexpr uint64_t kUserPage = 0x5000, kSupPage = 0x6000;   ///< linear pages under test
constexpr unsigned kKey = 5;                                 ///< their protection key
constexpr uint32_t kP = 1, kW = 2, kU = 4, kPk = 32;         ///< #PF error code bits (4.7)
constexpr uint32_t ad(unsigned key) { return 1u << (2 * key); }
constexpr uint32_t wd(unsigned key) { return 2u << (2 * key); }

class AccessRightsWalk : public ::testing::Test {
protected:
    void SetUp() override {
        auto m = memory::GuestMemory::create(0x10000);
        ASSERT_TRUE(m.has_value());
        mem = std::make_unique<memory::GuestMemory>(std::move(*m));
        put(0x1000, 0x2000 | 7);
        put(0x2000, 0x3000 | 7);
        put(0x3000, 0x4000 | 7);
        const uint64_t key = uint64_t{kKey} << 59;
        put(0x4000 + 5 * 8, 0x9000 | 0x47 | key);   // user, writable, dirty
        put(0x4000 + 6 * 8, 0xa000 | 0x43 | key);   // supervisor, writable, dirty
    }
    void put(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem->write_obj<uint64_t>(gpa, v).has_value()); }
    PageWalk walk(uint64_t la, Access acc, bool user = false) { return Mmu::walk(*mem, regs, la, acc, user, false); }
    /// The error code of a faulting walk, or ~0u when it succeeds.
    uint32_t fault(uint64_t la, Access acc, bool user = false) {
        const PageWalk w = walk(la, acc, user);
        return w.ok ? ~0u : w.error;
    }
    PagingRegs regs{hv::kCr0Pe | hv::kCr0Pg | hv::kCr0Wp, 0x1000, hv::kCr4Pae, hv::kEferLme | hv::kEferLma, true};
    std::unique_ptr<memory::GuestMemory> mem;
};

TEST_F(AccessRightsWalk, SmapFaultsSupervisorDataAccessesToUserPagesUnlessAcIsSet) {
    EXPECT_EQ(fault(kUserPage, Access::Read), ~0u) << "CR4.SMAP = 0";
    regs.cr4 |= hv::kCr4Smap;
    EXPECT_EQ(fault(kUserPage, Access::Read), kP);
    EXPECT_EQ(fault(kUserPage, Access::Write), kP | kW);
    EXPECT_EQ(fault(kUserPage, Access::Read, true), ~0u) << "a user-mode access is not SMAP's";
    EXPECT_EQ(fault(kSupPage, Access::Write), ~0u) << "a supervisor page";
    regs.smap_ac = true;   // CPL < 3 and EFLAGS.AC = 1
    EXPECT_EQ(fault(kUserPage, Access::Read), ~0u);
    EXPECT_EQ(fault(kUserPage, Access::Write), ~0u);
}

TEST_F(AccessRightsWalk, SmapLeavesInstructionFetchesAloneButTheirFillCannotRead) {
    regs.cr4 |= hv::kCr4Smap;
    const PageWalk w = walk(kUserPage, Access::Exec);
    ASSERT_TRUE(w.ok) << "no SMEP: a supervisor fetch from a user page is allowed";
    EXPECT_FALSE(w.readable) << "the TLB entry the fetch fills must not serve reads";
    EXPECT_FALSE(w.can_write);
    regs.smap_ac = true;
    EXPECT_TRUE(walk(kUserPage, Access::Exec).readable);
}

TEST_F(AccessRightsWalk, PkruAccessDisableFaultsEveryDataAccessToUserPages) {
    regs.cr4 |= hv::kCr4Pke;
    regs.pkru = ad(kKey);
    EXPECT_EQ(fault(kUserPage, Access::Read, true), kP | kU | kPk);
    EXPECT_EQ(fault(kUserPage, Access::Write, true), kP | kW | kU | kPk);
    EXPECT_EQ(fault(kUserPage, Access::Read), kP | kPk) << "supervisor accesses too";
    EXPECT_EQ(fault(kSupPage, Access::Read), ~0u) << "PKRU is for user pages only";
    EXPECT_EQ(fault(kUserPage, Access::Exec, true), ~0u) << "never instruction fetches";
    regs.cr4 |= hv::kCr4Smap;
    EXPECT_EQ(fault(kUserPage, Access::Read), kP | kPk) << "SMAP too: PK says the key forbids it";
    EXPECT_EQ(fault(kSupPage, Access::Read, true), kP | kU) << "a user access to a supervisor page: no key";
    put(0x4000 + 5 * 8, 0x9000 | 0x45 | (uint64_t{kKey} << 59));   // read-only
    regs.pkru = wd(kKey);
    EXPECT_EQ(fault(kUserPage, Access::Write, true), kP | kW | kU | kPk)
        << "PK with an R/W violation (SDM Vol. 3A 4.7: the key's verdict alone)";
    regs.cr4 &= ~hv::kCr4Smap;
    regs.pkru = ad(kKey + 1);
    EXPECT_EQ(fault(kUserPage, Access::Read, true), ~0u) << "another key";
    regs.pkru = ad(kKey);
    regs.cr4 &= ~hv::kCr4Pke;
    EXPECT_EQ(fault(kUserPage, Access::Read, true), ~0u) << "CR4.PKE = 0";
}

TEST_F(AccessRightsWalk, PkruWriteDisableHonoursWpForSupervisorAccesses) {
    regs.cr4 |= hv::kCr4Pke;
    regs.pkru = wd(kKey);
    EXPECT_EQ(fault(kUserPage, Access::Write, true), kP | kW | kU | kPk) << "CPL 3";
    EXPECT_EQ(fault(kUserPage, Access::Read, true), ~0u);
    EXPECT_EQ(fault(kUserPage, Access::Write), kP | kW | kPk) << "CPL 0, CR0.WP = 1";
    regs.cr0 &= ~hv::kCr0Wp;
    EXPECT_EQ(fault(kUserPage, Access::Write), ~0u) << "CPL 0, CR0.WP = 0";
    EXPECT_EQ(fault(kUserPage, Access::Write, true), kP | kW | kU | kPk) << "CPL 3 whatever WP";
}

TEST_F(AccessRightsWalk, PkrsGovernsSupervisorPages) {
    regs.cr4 |= hv::kCr4Pks;
    regs.pkrs = ad(kKey);
    EXPECT_EQ(fault(kSupPage, Access::Read), kP | kPk);
    EXPECT_EQ(fault(kUserPage, Access::Read), ~0u) << "IA32_PKRS is for supervisor pages only";
    regs.pkrs = wd(kKey);
    EXPECT_EQ(fault(kSupPage, Access::Write), kP | kW | kPk);
    EXPECT_EQ(fault(kSupPage, Access::Read), ~0u);
    regs.cr0 &= ~hv::kCr0Wp;
    EXPECT_EQ(fault(kSupPage, Access::Write), ~0u) << "CR0.WP = 0";
}

TEST_F(AccessRightsWalk, AReadUnderWriteDisableCachesNoWritePermission) {
    regs.cr4 |= hv::kCr4Pke | hv::kCr4Pks;
    regs.pkru = wd(kKey);
    PageWalk w = walk(kUserPage, Access::Read, true);
    ASSERT_TRUE(w.ok);
    EXPECT_TRUE(w.readable);
    EXPECT_FALSE(w.can_write) << "a later write hit in the TLB would bypass WD";
    regs.pkrs = ad(kKey);
    w = walk(kSupPage, Access::Exec);
    ASSERT_TRUE(w.ok);
    EXPECT_FALSE(w.readable);
    EXPECT_FALSE(w.can_write);
}

TEST_F(AccessRightsWalk, KeysNeedIa32ePaging) {
    // PAE paging has no protection keys (SDM Vol. 3A 4.6.2): PKRU denying key 0 stops a 4-level
    // walk to a key-0 page and not a PAE walk to the same page.
    regs.cr4 |= hv::kCr4Pke;
    regs.pkru = ad(0);
    put(0x4000 + 7 * 8, 0xb000 | 0x47);   // key 0, user
    EXPECT_EQ(fault(0x7000, Access::Read, true), kP | kU | kPk);
    regs.long_mode = false;
    regs.efer = 0;
    regs.cr3 = 0x8000;   // a PAE PDPT (its entries have P only) whose entry 0 is the same PD
    put(0x8000, 0x3000 | 1);
    EXPECT_EQ(fault(0x7000 & 0xffffffff, Access::Read, true), ~0u) << "no keys outside IA-32e paging";
}

}  // namespace
}  // namespace popek::emu
