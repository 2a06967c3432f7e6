/// REP MOVS / REP STOS copied a page run at a time (emu/interp/string.cpp, bulk_iterations):
/// the result must be what iterating one element at a time gives (SDM Vol. 2B MOVS, STOS, REP):
/// an overlapping copy repeats its first bytes (forward, and with DF=1 going down), a fault stops at the exact element with
/// RCX/RSI/RDI counting the completed ones, and a copy over code is seen as a code write.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

class EmuStringBulk : public EmuLongModeTest {
protected:
    void run_asm(const SnippetEmit& emit) { run(assemble_with_hlt(emit)); }
};

TEST_F(EmuStringBulk, OverlappingForwardCopyRepeatsTheSource) {
    // memmove would shift "abc..." by one; MOVSB one byte at a time smears 'a' over all of it.
    std::vector<uint8_t> text(300);
    for (size_t n = 0; n < text.size(); ++n) text[n] = static_cast<uint8_t>('a' + n % 26);
    h.write(0x20000, text);
    run_asm([](G& g) {
        g.mov(esi, 0x20000);
        g.mov(edi, 0x20001);
        g.mov(ecx, 299);
        g.rep();
        g.movsb();
    });
    for (uint64_t a = 0x20000; a < 0x20000 + 300; ++a) ASSERT_EQ(h.read<uint8_t>(a), 'a') << std::hex << a;
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(r(hv::RSI), 0x20000u + 299);
    EXPECT_EQ(r(hv::RDI), 0x20001u + 299);
}

TEST_F(EmuStringBulk, CopyOfSeveralPagesEqualsTheSource) {
    std::vector<uint8_t> data(3 * 4096 + 40);
    for (size_t n = 0; n < data.size(); ++n) data[n] = static_cast<uint8_t>(n * 7 + n / 251);
    h.write(0x20010, data);
    run_asm([&](G& g) {
        g.mov(esi, 0x20010);
        g.mov(edi, 0x30ff8);   // another page offset: the chunks of source and destination differ
        g.mov(ecx, static_cast<uint32_t>(data.size() / 8));
        g.rep();
        g.movsq();
    });
    for (size_t n = 0; n < data.size(); ++n) ASSERT_EQ(h.read<uint8_t>(0x30ff8 + n), data[n]) << n;
    EXPECT_EQ(r(hv::RDI), 0x30ff8u + data.size());
}

TEST_F(EmuStringBulk, OverlappingBackwardCopyRepeatsTheSource) {
    // DF=1, the destination one byte below the source: going down, MOVSB one byte at a time
    // smears the top byte over all of it (memmove would shift the text by one).
    std::vector<uint8_t> text(300);
    for (size_t n = 0; n < text.size(); ++n) text[n] = static_cast<uint8_t>('a' + n % 26);
    h.write(0x20000, text);
    run_asm([](G& g) {
        g.std();
        g.mov(esi, 0x20000 + 299);
        g.mov(edi, 0x20000 + 298);
        g.mov(ecx, 299);
        g.rep();
        g.movsb();
        g.cld();
    });
    for (uint64_t a = 0x20000; a < 0x20000 + 299; ++a) ASSERT_EQ(h.read<uint8_t>(a), text[299]) << std::hex << a;
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(r(hv::RSI), 0x20000u);
    EXPECT_EQ(r(hv::RDI), 0x20000u - 1);
}

TEST_F(EmuStringBulk, BackwardCopyBetweenPagesOfOneTlbSetEqualsTheSource) {
    // The copy the Linux bzImage makes of itself: STD; REP MOVSQ, destination a multiple of
    // 1 MiB from the source, so each source page shares its TLB set with a destination page
    // (emu/mmu/mmu.h: span() finds both ways).
    constexpr uint64_t kSrc = 0x101010, kDst = 0x201010;
    std::vector<uint8_t> data(3 * 4096 + 40);
    for (size_t n = 0; n < data.size(); ++n) data[n] = static_cast<uint8_t>(n * 13 + n / 241);
    h.write(kSrc, data);
    run_asm([&](G& g) {
        g.std();
        g.mov(esi, static_cast<uint32_t>(kSrc + data.size() - 8));
        g.mov(edi, static_cast<uint32_t>(kDst + data.size() - 8));
        g.mov(ecx, static_cast<uint32_t>(data.size() / 8));
        g.rep();
        g.movsq();
        g.cld();
    });
    for (size_t n = 0; n < data.size(); ++n) ASSERT_EQ(h.read<uint8_t>(kDst + n), data[n]) << n;
    EXPECT_EQ(r(hv::RCX), 0u);
    EXPECT_EQ(r(hv::RSI), kSrc - 8);
    EXPECT_EQ(r(hv::RDI), kDst - 8);
}

TEST_F(EmuStringBulk, FillStopsAtAnUnmappedPageAtTheExactElement) {
    // STOSD from 0x10 below the end of a mapped page into an unmapped one: #PF on the fifth
    // element, with four stored and RDI after the fourth (SDM Vol. 2B REP: a fault leaves the
    // registers as after the last completed iteration; the report handler clobbers RCX).
    const uint64_t page = kPtBase + 0x3000;
    h.set_pte(page + 0x1000, 0);   // not present
    h.write(page + 0xfe0, std::vector<uint8_t>(32, 0));
    const std::vector<uint8_t> code = assemble_with_hlt([&](G& g) {
        g.mov(rdi, page + 0xff0);
        g.mov(eax, 0x5a5a5a5a);
        g.mov(ecx, 1000);
        g.rep();
        g.stosd();
    });
    h.load_code(code);
    ASSERT_TRUE(is_halt(h.run()));
    ASSERT_TRUE(h.reported()) << "no page fault";
    EXPECT_EQ(h.reported_cr2(), page + 0x1000);
    EXPECT_EQ(h.reported_rip(), kCode + code.size() - 3);   // the REP STOSD (F3 AB) before the HLT
    EXPECT_EQ(r(hv::RDI), page + 0x1000);
    for (uint64_t a = page + 0xff0; a < page + 0x1000; a += 4) EXPECT_EQ(h.read<uint32_t>(a), 0x5a5a5a5au);
    EXPECT_EQ(h.read<uint32_t>(page + 0xfec), 0u);
}

TEST_F(EmuStringBulk, CopyOverTranslatedCodeRunsTheNewCode) {
    // f: mov eax, 1; ret — called once, then REP MOVSB copies "mov eax, 2; ret" over it and
    // calls it again: the copy is a write to a code page (no bulk path through it).
    const uint64_t f = 0x40000;
    h.write(f, {0xb8, 0x01, 0, 0, 0, 0xc3});
    h.write(0x41000, {0xb8, 0x02, 0, 0, 0, 0xc3});
    run_asm([&](G& g) {
        g.mov(ebx, f);
        g.call(rbx);
        g.mov(edx, eax);
        g.mov(esi, 0x41000);
        g.mov(edi, f);
        g.mov(ecx, 6);
        g.rep();
        g.movsb();
        g.call(rbx);
    });
    EXPECT_EQ(r(hv::RDX), 1u);
    EXPECT_EQ(r(hv::RAX), 2u);
}

}  // namespace
}  // namespace popek::emu::test
