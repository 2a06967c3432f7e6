/// The translator's inline memory paths in 32-bit protected mode with flat DS/ES/SS (Block mode
/// kModeFlat32), against the interpreter: loads, stores, read-modify-writes, PUSH/POP with ESP
/// wrapping inside RSP's kept upper half, accesses through CS/FS (not inline: their segment is
/// checked by the handler), a non-flat DS (no inline path at all) and a MOV DS in mid-block,
/// which ends the block so that the code after it is not run as flat. The snippets are raw
/// 32-bit encodings (xbyak assembles 64-bit code).
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

constexpr uint64_t kDataBuf = 0x30000;   ///< EDI points here
constexpr uint64_t kValues[] = {0, 1, 0x7f, 0x80, 0xffffffff, 0x80000000, 0x7fff, 0x12345678,
                                0xdeadbeef00000001, 0xffffffffffffffff};
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags, kZf | kOf};

struct Case32 {
    std::string name;
    std::vector<uint8_t> bytes;
    unsigned inline_insns;   ///< instructions translated natively (register-only or inline memory)
};

std::vector<uint8_t> with_hlt(std::vector<uint8_t> b) {
    b.push_back(0xf4);
    return b;
}

void fill(BtPair& p, uint64_t seed) {
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        for (size_t k = 0; k < 64; k += 8) h->poke<uint64_t>(kDataBuf + k, seed * 0x9e3779b97f4a7c15ULL + k * 0x0101010101010101ULL);
        for (size_t k = 0; k < 64; k += 8) h->poke<uint64_t>(kStackTop - 64 + k, 0);
    }
}

::testing::AssertionResult same_memory(BtPair& p) {
    for (uint64_t base : {kDataBuf, kStackTop - 64, uint64_t{0x31000}})
        for (size_t k = 0; k < 64; k += 8)
            if (p.interp.read<uint64_t>(base + k) != p.bt.read<uint64_t>(base + k))
                return ::testing::AssertionFailure() << std::hex << base + k << " differs";
    return ::testing::AssertionSuccess();
}

void check(const std::vector<Case32>& cases) {
    BtPair p(true);
    for (const Case32& c : cases) {
        SCOPED_TRACE(c.name);
        p.load(with_hlt(c.bytes));
        const uint64_t before = p.stats().native_insns;
        for (size_t rot = 0; rot < std::size(kValues); ++rot) {
            uint64_t gpr[16];
            for (size_t i = 0; i < 16; ++i) gpr[i] = kValues[(i + rot) % std::size(kValues)];
            gpr[hv::RDI] = kDataBuf;
            gpr[hv::RSI] = rot % 4;
            for (uint64_t f : kFlagSets) {
                fill(p, rot);
                ASSERT_TRUE(p.same(gpr, f)) << "rotation " << rot;
                ASSERT_TRUE(same_memory(p)) << "rotation " << rot;
            }
        }
        EXPECT_EQ(p.stats().native_insns - before, c.inline_insns) << "inline instruction count";
    }
}

TEST(BtFlat32, LoadsStoresAndReadModifyWrites) {
    check({
        {"mov eax,[edi]", {0x8b, 0x07}, 1},
        {"mov eax,[0x30008] (moffs)", {0xa1, 0x08, 0x00, 0x03, 0x00}, 1},
        {"mov ecx,[0x30010] (disp32 only)", {0x8b, 0x0d, 0x10, 0x00, 0x03, 0x00}, 1},
        {"add eax,[edi+4]", {0x03, 0x47, 0x04}, 1},
        {"mov ah,[edi+1]", {0x8a, 0x67, 0x01}, 1},
        {"movzx ecx,byte [edi+esi*2+2]", {0x0f, 0xb6, 0x4c, 0x77, 0x02}, 1},
        {"movsx dx,byte [edi+7]", {0x66, 0x0f, 0xbe, 0x57, 0x07}, 1},
        {"add [edi],eax", {0x01, 0x07}, 1},
        {"sub dword [edi],5", {0x83, 0x2f, 0x05}, 1},
        {"adc [edi+8],ecx", {0x11, 0x4f, 0x08}, 1},
        {"mov byte [edi],0x80", {0xc6, 0x07, 0x80}, 1},
        {"mov [edi],ax", {0x66, 0x89, 0x07}, 1},
        {"inc dword [edi]", {0xff, 0x07}, 1},
        {"lock dec dword [edi+4]", {0xf0, 0xff, 0x4f, 0x04}, 1},
        {"xchg [edi],ecx", {0x87, 0x0f}, 1},
        {"lock xadd [edi],ecx", {0xf0, 0x0f, 0xc1, 0x0f}, 1},
        {"cmpxchg [edi],ecx", {0x0f, 0xb1, 0x0f}, 1},
        {"cmp [edi],ebx; jz +1; inc esi", {0x39, 0x1f, 0x74, 0x01, 0x46}, 2},
        {"mov eax,[esp] (SS)", {0x8b, 0x04, 0x24}, 1},
        {"mov eax,[edi+0xfffffff0] (wraps at 4 GiB)", {0x8b, 0x87, 0xf0, 0xff, 0xff, 0xff}, 1},
        {"mov eax,cs:[edi] (not inline)", {0x2e, 0x8b, 0x07}, 0},
        {"mov eax,fs:[edi] (not inline)", {0x64, 0x8b, 0x07}, 0},
    });
}

TEST(BtFlat32, PushPopKeepTheUpperHalfOfRsp) {
    check({
        {"push eax; pop ecx", {0x50, 0x59}, 2},
        {"push -1; push 0x12345678; pop edx; pop ebx", {0x6a, 0xff, 0x68, 0x78, 0x56, 0x34, 0x12, 0x5a, 0x5b}, 4},
        {"push esp; pop esp", {0x54, 0x5c}, 2},
        {"push esp; pop eax", {0x54, 0x58}, 2},
        {"push ax (16-bit: not inline)", {0x66, 0x50, 0x66, 0x58}, 0},
    });
    // RSP with a non-zero upper half (left by 64-bit code): 32-bit PUSH/POP change only ESP.
    BtPair p(true);
    p.load(with_hlt({0x50, 0x5b, 0x53}));   // push eax; pop ebx; push ebx
    uint64_t gpr[16] = {};
    gpr[hv::RAX] = 0x1122334455667788;
    for (EmuHarness* h : {&p.interp, &p.bt}) h->poke<uint64_t>(kStackTop - 8, 0);
    ASSERT_TRUE(p.same(gpr, 0));
}

TEST(BtFlat32, NonFlatDataSegmentHasNoInlinePath) {
    // DS based at 0x1000: blocks are decoded without kModeFlat32, so every access is checked by
    // the interpreter's handler (base added, limit checked).
    BtPair p(true);
    for (EmuHarness* h : {&p.interp, &p.bt}) h->cpu().seg[kDs].base = 0x1000;
    p.load(with_hlt({0x8b, 0x07, 0x01, 0x47, 0x04}));   // mov eax,[edi]; add [edi+4],eax
    uint64_t gpr[16] = {};
    gpr[hv::RDI] = kDataBuf;
    fill(p, 3);
    ASSERT_TRUE(p.same(gpr, 0));
    ASSERT_TRUE(same_memory(p));
    EXPECT_EQ(p.stats().native_insns, 0u);
}

TEST(BtFlat32, MovToDsEndsTheBlock) {
    // GDT entry 0x20: a data segment based at 0x1000 (limit 4 GiB, G, D/B, P, type 3).
    BtPair p(true);
    for (EmuHarness* h : {&p.interp, &p.bt}) h->poke<uint64_t>(kGdt + 0x20, 0x00cf93001000ffffULL);
    // mov ax,0x20; mov ds,ax; mov ecx,[edi]; add [edi+4],ecx
    p.load(with_hlt({0x66, 0xb8, 0x20, 0x00, 0x8e, 0xd8, 0x8b, 0x0f, 0x01, 0x4f, 0x04}));
    uint64_t gpr[16] = {};
    gpr[hv::RDI] = kDataBuf;
    fill(p, 5);
    for (EmuHarness* h : {&p.interp, &p.bt}) h->poke<uint64_t>(0x31000, 0xabcdef0123456789ULL);
    ASSERT_TRUE(p.same(gpr, 0));
    ASSERT_TRUE(same_memory(p));
    EXPECT_EQ(p.bt.cpu().gpr[hv::RCX], 0x23456789u) << "read through DS base 0x1000";
}

}  // namespace
}  // namespace popek::emu::test
