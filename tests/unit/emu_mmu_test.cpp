/// emu::Mmu on its own (emu/mmu/mmu.h), without a CPU: the 2-way software TLB's fill, lookup
/// and way promotion, the invalidations of SDM Vol. 3A 4.10.4 with the map generation they
/// move, and the page walk's A/D updates (4.8) and #PF error codes (4.7).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "emu/arch_state.h"
#include "emu/mmu/mmu.h"
#include "hv/cpu_state.h"
#include "memory/guest_memory.h"

namespace popek::emu {
namespace {

constexpr uint64_t kLa = 0x7f0000123000, kGpa = 0x5000;

class MmuTest : public ::testing::Test {
protected:
    std::vector<uint8_t> host = std::vector<uint8_t>(2 * 4096, 0);
    Mmu mmu;
    void fill(uint64_t la, uint64_t gpa, bool global = false, unsigned shift = 12, bool user = false) {
        mmu.fill(la, gpa, user ? kTlbUser : kTlbSup, host.data(), true, true, true, global, shift);
    }
};

TEST_F(MmuTest, FillMapsTheFastPathsOfItsClassOnly) {
    fill(kLa, kGpa);
    EXPECT_EQ(mmu.read_page(kLa + 0x10, 0), kLa);
    EXPECT_EQ(mmu.span(kLa + 0x10, 8, Access::Write), host.data() + 0x10);
    EXPECT_EQ(mmu.span(kLa + 0xffc, 8, Access::Read), nullptr) << "crosses the page";
    EXPECT_EQ(mmu.lookup(kLa + 0x10, Access::Exec, kTlbSup), kGpa + 0x10);
    EXPECT_EQ(mmu.lookup(kLa + 0x10, Access::Read, kTlbUser), std::nullopt) << "the user class is separate";
    mmu.set_class(kTlbUser);
    EXPECT_EQ(mmu.span(kLa + 0x10, 8, Access::Read), nullptr) << "CPL 3 looks in the user class";
}

TEST_F(MmuTest, PagesAtBothEndsOfTheAddressSpaceHaveTagsOfTheirOwn) {
    // Tags are negated page numbers (tlb_tag): page 0's is 0, the last page's 1 - 2^52; neither
    // may look like kTlbInvalid or like the other.
    constexpr uint64_t kTop = 0xfffffffffffff000;
    EXPECT_EQ(mmu.lookup(0x10, Access::Read, kTlbSup), std::nullopt) << "an empty TLB holds page 0 nowhere";
    fill(0, kGpa);
    fill(kTop, kGpa + 0x1000);
    EXPECT_EQ(mmu.lookup(0x10, Access::Read, kTlbSup), kGpa + 0x10);
    EXPECT_EQ(mmu.lookup(kTop + 0x10, Access::Write, kTlbSup), kGpa + 0x1010);
    EXPECT_EQ(mmu.read_page(kTop, 0), kTop);
    EXPECT_EQ(mmu.span(kTop + 0xff8, 8, Access::Read), host.data() + 0xff8);
    EXPECT_EQ(mmu.span(kTop + 0xff9, 8, Access::Read), nullptr) << "wraps past the end";
    EXPECT_FALSE(mmu.flush_page(kTop));
    EXPECT_EQ(mmu.lookup(kTop, Access::Read, kTlbSup), std::nullopt);
    EXPECT_EQ(mmu.lookup(0x10, Access::Read, kTlbSup), kGpa + 0x10) << "page 0 stays";
}

TEST_F(MmuTest, UnmappedPageKeepsEveryAccessOnTheSlowPath) {
    mmu.fill(kLa, kGpa, kTlbSup, nullptr, true, true, true, false, 12);
    EXPECT_EQ(mmu.lookup(kLa, Access::Read, kTlbSup), std::nullopt);
    EXPECT_EQ(mmu.span(kLa, 1, Access::Read), nullptr);
}

TEST_F(MmuTest, SecondPageOfASetGoesToWayOneAndIsPromotedOnLookup) {
    const uint64_t other = kLa + (uint64_t{kTlbSize} << 12);   // same set index
    fill(kLa, kGpa);
    fill(other, kGpa + 0x1000);
    EXPECT_EQ(mmu.read_page(kLa, 0), other) << "way 0 holds the page filled last";
    EXPECT_EQ(mmu.lookup(kLa + 8, Access::Read, kTlbSup), kGpa + 8) << "way 1 still holds the first";
    EXPECT_EQ(mmu.read_page(kLa, 0), kLa) << "a way-1 hit moves to way 0";
}

TEST_F(MmuTest, MovToCr3KeepsGlobalPagesAndOnlyTheLowHalfOfTheMapGeneration) {
    const uint64_t global_la = kLa + 0x1000;
    fill(kLa, kGpa);
    fill(global_la, kGpa + 0x1000, true);
    const uint64_t gen = mmu.map_gen();
    mmu.flush_non_global();
    EXPECT_EQ(mmu.lookup(kLa, Access::Read, kTlbSup), std::nullopt);
    EXPECT_EQ(mmu.lookup(global_la, Access::Read, kTlbSup), kGpa + 0x1000);
    EXPECT_TRUE(mmu.global(global_la, kTlbSup));
    EXPECT_EQ(mmu.map_gen() & ~(Mmu::kMapGenGlobal - 1), gen & ~(Mmu::kMapGenGlobal - 1));
    EXPECT_NE(mmu.map_gen(), gen);
    mmu.flush_all();
    EXPECT_EQ(mmu.lookup(global_la, Access::Read, kTlbSup), std::nullopt);
    EXPECT_NE(mmu.map_gen() & ~(Mmu::kMapGenGlobal - 1), gen & ~(Mmu::kMapGenGlobal - 1));
}

TEST_F(MmuTest, InvlpgMovesTheMapGenerationOnlyForLinkedPages) {
    const uint64_t linked = kLa, other = kLa + 0x5000;
    fill(linked, kGpa);
    fill(other, kGpa + 0x1000);
    auto mem = memory::GuestMemory::create(0x1000);
    ASSERT_TRUE(mem.has_value());
    EXPECT_FALSE(mmu.note_linked(linked, kTlbSup, *mem, PagingRegs{}))
        << "not a global page (found in the TLB: the page tables are not read)";
    const uint64_t gen = mmu.map_gen();
    EXPECT_FALSE(mmu.flush_page(other));
    EXPECT_EQ(mmu.map_gen(), gen) << "no link can lead through that page";
    EXPECT_EQ(mmu.lookup(other, Access::Read, kTlbSup), std::nullopt);
    EXPECT_EQ(mmu.lookup(linked, Access::Read, kTlbSup), kGpa);
    EXPECT_FALSE(mmu.flush_page(linked));
    EXPECT_NE(mmu.map_gen(), gen);
    EXPECT_EQ(mmu.lookup(linked, Access::Read, kTlbSup), std::nullopt);
}

TEST_F(MmuTest, InvlpgInsideALargePageDropsItsOtherPages) {
    const uint64_t large = 0x40000000;   // a 2 MiB page cached as its 4 KiB pages
    fill(large + 0x3000, kGpa, false, 21);
    fill(large + 0x1ff000, kGpa + 0x1000, false, 21);   // another page of it, another set
    EXPECT_TRUE(mmu.flush_page(large + 0x100000)) << "a page of it that was never filled";
    EXPECT_EQ(mmu.lookup(large + 0x3000, Access::Read, kTlbSup), std::nullopt);
    EXPECT_EQ(mmu.lookup(large + 0x1ff000, Access::Read, kTlbSup), std::nullopt);
}

TEST_F(MmuTest, DropWritesKeepsReadsAndFetches) {
    fill(kLa, kGpa);
    mmu.drop_writes();
    EXPECT_EQ(mmu.span(kLa, 4, Access::Write), nullptr);
    EXPECT_NE(mmu.span(kLa, 4, Access::Read), nullptr);
    EXPECT_EQ(mmu.lookup(kLa, Access::Exec, kTlbSup), kGpa);
}

TEST_F(MmuTest, InvlpgAnywhereInA4MiBOr1GiBPageDropsItsOtherPages) {
    // The regions large entries came from are noted to spare other INVLPGs the scan of every
    // set: a 4 MiB page (32-bit paging) spans two 2 MiB regions, a 1 GiB page its own.
    const uint64_t four_m = 0x00c00000, one_g = 0x80000000;
    fill(four_m + 0x1000, kGpa, false, 22);
    fill(one_g + 0x5000, kGpa + 0x1000, false, 30);
    EXPECT_FALSE(mmu.flush_page(0x10000000)) << "in neither";
    EXPECT_EQ(mmu.lookup(four_m + 0x1000, Access::Read, kTlbSup), kGpa);
    EXPECT_TRUE(mmu.flush_page(four_m + 0x300000)) << "the upper 2 MiB half of the 4 MiB page";
    EXPECT_EQ(mmu.lookup(four_m + 0x1000, Access::Read, kTlbSup), std::nullopt);
    EXPECT_TRUE(mmu.flush_page(one_g + 0x3ff00000)) << "the last MiB of the 1 GiB page";
    EXPECT_EQ(mmu.lookup(one_g + 0x5000, Access::Read, kTlbSup), std::nullopt);
}

/// A 4-level table in 64 KiB of guest RAM: PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT
/// 0x4000, mapping linear 0 + 0x5000 to guest-physical 0x9000 (SDM Vol. 3A 4.5).
class MmuWalkTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto m = memory::GuestMemory::create(0x10000);
        ASSERT_TRUE(m.has_value());
        mem = std::make_unique<memory::GuestMemory>(std::move(*m));
        put(0x1000, 0x2000 | 7);
        put(0x2000, 0x3000 | 7);
        put(0x3000, 0x4000 | 7);
        put(0x4000 + 5 * 8, 0x9000 | 3);   // present, writable, supervisor
    }
    void put(uint64_t gpa, uint64_t v) { ASSERT_TRUE(mem->write_obj<uint64_t>(gpa, v).has_value()); }
    uint64_t get(uint64_t gpa) { return *mem->read_obj<uint64_t>(gpa); }
    PagingRegs regs{hv::kCr0Pe | hv::kCr0Pg | hv::kCr0Wp, 0x1000, hv::kCr4Pae, hv::kEferLme | hv::kEferLma, true};
    std::unique_ptr<memory::GuestMemory> mem;
};

TEST_F(MmuWalkTest, SetsAccessedAndDirtyOnlyWhenAsked) {
    PageWalk w = Mmu::walk(*mem, regs, 0x5123, Access::Write, false, false);
    ASSERT_TRUE(w.ok);
    EXPECT_EQ(w.gpa, 0x9123u);
    EXPECT_EQ(get(0x4000 + 5 * 8) & 0x60, 0u) << "a probe leaves the entries alone";
    w = Mmu::walk(*mem, regs, 0x5123, Access::Write, false, true);
    ASSERT_TRUE(w.ok);
    EXPECT_TRUE(w.can_write);
    EXPECT_EQ(get(0x4000 + 5 * 8) & 0x60, 0x60u) << "A and D on the PTE";
    EXPECT_EQ(get(0x1000) & 0x60, 0x20u) << "A only on the PML4E";
}

TEST_F(MmuWalkTest, ReportsThePageFaultErrorCode) {
    PageWalk w = Mmu::walk(*mem, regs, 0x6000, Access::Write, true, true);   // PTE 6 not present
    EXPECT_FALSE(w.ok);
    EXPECT_EQ(w.error, 2u | 4u) << "W/R and U/S, P clear (SDM Vol. 3A 4.7)";
    w = Mmu::walk(*mem, regs, 0x5000, Access::Read, true, true);   // supervisor page, user access
    EXPECT_FALSE(w.ok);
    EXPECT_EQ(w.error, 1u | 4u);
}

TEST_F(MmuWalkTest, ALinkToAPageNotInTheTlbIsNotedByThePageTablesPageSize) {
    // Found through the jump cache, not the TLB: the walk says it is a 4 KiB page, so an INVLPG
    // of another page leaves the map generation (and every chained jump) alone.
    Mmu mmu;
    EXPECT_FALSE(mmu.note_linked(0x5000, kTlbSup, *mem, regs));
    const uint64_t gen = mmu.map_gen();
    mmu.flush_page(0x7000);
    EXPECT_EQ(mmu.map_gen(), gen) << "an unrelated INVLPG";
    mmu.flush_page(0x5000);
    EXPECT_NE(mmu.map_gen(), gen) << "the linked page itself";
}

TEST(ArchStateTest, ComparesEveryRegisterAsOneValue) {
    ArchState a;
    a.gpr[hv::RAX] = 1;
    a.seg[kDs].limit = 0xffffffff;
    a.fpu.xmm[3][7] = 0x42;
    const ArchState copy = a;
    EXPECT_EQ(copy, a);
    ArchState b = a;
    b.seg[kDs].unusable = true;
    EXPECT_NE(b, a) << "segment caches compare";
    b = a;
    b.fpu.xmm[3][7] = 0;
    EXPECT_NE(b, a) << "the register file compares";
    b = a;
    b.gdt.limit = 7;
    EXPECT_NE(b, a) << "descriptor tables compare";
}

}  // namespace
}  // namespace popek::emu
