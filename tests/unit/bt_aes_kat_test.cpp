/// Known answers for AES-NI and PCLMULQDQ on both engines (interpreter and block translator, the
/// latter translating every block on its first run): a tiny guest does the whole FIPS-197
/// Appendix C.1 AES-128 example, the key schedule with AESKEYGENASSIST, encryption with AESENC x9
/// + AESENCLAST and decryption with the Equivalent Inverse Cipher (FIPS-197 5.3.5: AESIMC round
/// keys, AESDEC x9 + AESDECLAST); another multiplies with PCLMULQDQ under all four selectors,
/// checked against a carry-less multiplication in C++. Both machines must give the answer, the
/// same registers, and bt must run it all natively; CPUID.1:ECX AES/PCLMULQDQ as on the host.
#include <cpuid.h>
#include <xbyak/xbyak_util.h>

#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kBuf = 0x30000;   ///< RDI: inputs at +0, outputs from +0x40, round keys from +0x100

bool host_crypto() {
    const Xbyak::util::Cpu host;
    return host.has(Xbyak::util::Cpu::tAESNI) && host.has(Xbyak::util::Cpu::tPCLMULQDQ);
}

void enable_sse(BtPair& p) {
    for (EmuHarness* h : {&p.interp, &p.bt}) h->cpu().cr4 |= hv::kCr4Osfxsr | hv::kCr4Osxmmexcpt;
}

std::vector<uint8_t> bytes(std::initializer_list<int> l) {
    std::vector<uint8_t> v;
    for (int b : l) v.push_back(static_cast<uint8_t>(b));
    return v;
}

/// FIPS-197 Appendix C.1: key at [rdi], plaintext at [rdi+16]; ciphertext to [rdi+0x40],
/// decrypted text to [rdi+0x50]; round key r at [rdi+0x100+16r].
void aes128_guest(G& g) {
    g.movdqu(xmm1, xword[rdi]);
    g.movdqa(xword[rdi + 0x100], xmm1);
    const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
    for (int r = 1; r <= 10; ++r) {   // the Intel AES-NI white paper's AES_128_ASSIST
        g.aeskeygenassist(xmm2, xmm1, rcon[r - 1]);
        g.pshufd(xmm2, xmm2, 0xff);
        g.movdqa(xmm3, xmm1);
        for (int k = 0; k < 3; ++k) {
            g.pslldq(xmm3, 4);
            g.pxor(xmm1, xmm3);
        }
        g.pxor(xmm1, xmm2);
        g.movdqa(xword[rdi + 0x100 + 16 * r], xmm1);
    }
    g.movdqu(xmm0, xword[rdi + 16]);
    g.pxor(xmm0, xword[rdi + 0x100]);
    for (int r = 1; r <= 9; ++r) {
        if (r % 2) g.aesenc(xmm0, xword[rdi + 0x100 + 16 * r]);   // memory and register forms
        else {
            g.movdqa(xmm12, xword[rdi + 0x100 + 16 * r]);
            g.aesenc(xmm0, xmm12);
        }
    }
    g.aesenclast(xmm0, xword[rdi + 0x100 + 160]);
    g.movdqu(xword[rdi + 0x40], xmm0);
    g.movdqa(xmm4, xmm0);
    g.pxor(xmm4, xword[rdi + 0x100 + 160]);
    for (int r = 9; r >= 1; --r) {
        if (r % 2) g.aesimc(xmm5, xword[rdi + 0x100 + 16 * r]);
        else {
            g.movdqa(xmm13, xword[rdi + 0x100 + 16 * r]);
            g.aesimc(xmm13, xmm13);
            g.movdqa(xmm5, xmm13);
        }
        g.aesdec(xmm4, xmm5);
    }
    g.movdqa(xmm6, xword[rdi + 0x100]);
    g.aesdeclast(xmm4, xmm6);
    g.movdqu(xword[rdi + 0x50], xmm4);
    g.movq(rax, xmm0);   // and into GPRs, which BtPair::same compares
    g.movq(rdx, xmm4);
}

TEST(BtCryptoKat, Aes128Fips197AppendixC1) {
    if (!host_crypto()) GTEST_SKIP() << "host without AES-NI/PCLMULQDQ";
    BtPair p;
    enable_sse(p);
    p.load(assemble_with_hlt(aes128_guest));
    const auto key = bytes({0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f});
    const auto plain = bytes({0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff});
    const auto cipher = bytes({0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a});
    const auto last_key = bytes({0x13, 0x11, 0x1d, 0x7f, 0xe3, 0x94, 0x4a, 0x17, 0xf3, 0x07, 0xa7, 0x8b, 0x4d, 0x2b, 0x30, 0xc5});
    for (int run = 0; run < 2; ++run) {   // the second run re-enters the translated blocks
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            h->write(kBuf, key);
            h->write(kBuf + 16, plain);
            h->write(kBuf + 0x40, std::vector<uint8_t>(0x200, 0xcc));
        }
        const uint64_t native = p.stats().native_insns, helpers = p.stats().helper_insns;
        uint64_t gpr[16] = {};
        gpr[hv::RDI] = kBuf;
        ASSERT_TRUE(p.same(gpr, 0));
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            SCOPED_TRACE(h == &p.bt ? "bt" : "interp");
            ASSERT_FALSE(h->reported());
            for (size_t k = 0; k < 16; ++k) {
                EXPECT_EQ(h->read<uint8_t>(kBuf + 0x40 + k), cipher[k]) << "ciphertext byte " << k;
                EXPECT_EQ(h->read<uint8_t>(kBuf + 0x50 + k), plain[k]) << "decrypted byte " << k;
                EXPECT_EQ(h->read<uint8_t>(kBuf + 0x100 + 160 + k), last_key[k]) << "round key 10 byte " << k;
            }
        }
        if (run == 0) {   // the first run translates: everything but the HLT native
            EXPECT_LE(p.stats().helper_insns - helpers, 1u);
            EXPECT_GE(p.stats().native_insns - native, 150u);
        }
    }
}

/// Carry-less product of two 64-bit polynomials over GF(2), low and high quadwords.
std::pair<uint64_t, uint64_t> clmul(uint64_t a, uint64_t b) {
    uint64_t lo = 0, hi = 0;
    for (unsigned k = 0; k < 64; ++k) {
        if (!((b >> k) & 1)) continue;
        lo ^= a << k;
        if (k) hi ^= a >> (64 - k);
    }
    return {lo, hi};
}

TEST(BtCryptoKat, PclmulqdqSelectorsAndMemoryOperand) {
    if (!host_crypto()) GTEST_SKIP() << "host without AES-NI/PCLMULQDQ";
    BtPair p;
    enable_sse(p);
    // xmm1 = [rdi] (a0, a1); source [rdi+16] = (b0, b1). Selector k's result to [rdi+0x40+16k]
    // from the memory form, to [rdi+0x80+16k] from the register form.
    constexpr uint8_t kSel[4] = {0x00, 0x01, 0x10, 0x11};
    p.load(assemble_with_hlt([&](G& g) {
        g.movdqu(xmm1, xword[rdi]);
        g.movdqa(xmm3, xword[rdi + 16]);
        for (int k = 0; k < 4; ++k) {
            g.movdqa(xmm2, xmm1);
            g.pclmulqdq(xmm2, xword[rdi + 16], kSel[k]);
            g.movdqa(xword[rdi + 0x40 + 16 * k], xmm2);
            g.movdqa(xmm14, xmm1);
            g.pclmulqdq(xmm14, xmm3, kSel[k]);
            g.movdqa(xword[rdi + 0x80 + 16 * k], xmm14);
        }
    }));
    const uint64_t a[2] = {0x8000000000000001ULL, 0xdeadbeefcafebabeULL}, b[2] = {0xffffffffffffffffULL, 0x0123456789abcdefULL};
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        for (int k = 0; k < 2; ++k) {
            h->poke<uint64_t>(kBuf + 8 * static_cast<uint64_t>(k), a[k]);
            h->poke<uint64_t>(kBuf + 16 + 8 * static_cast<uint64_t>(k), b[k]);
        }
    }
    uint64_t gpr[16] = {};
    gpr[hv::RDI] = kBuf;
    ASSERT_TRUE(p.same(gpr, 0));
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        SCOPED_TRACE(h == &p.bt ? "bt" : "interp");
        ASSERT_FALSE(h->reported());
        for (int k = 0; k < 4; ++k) {   // imm8[0] picks the quadword of operand 1, imm8[4] of operand 2
            const auto [lo, hi] = clmul(a[kSel[k] & 1], b[(kSel[k] >> 4) & 1]);
            for (uint64_t base : {0x40u, 0x80u}) {
                const uint64_t at = kBuf + base + 16 * static_cast<uint64_t>(k);
                EXPECT_EQ(h->read<uint64_t>(at), lo) << "selector " << int(kSel[k]) << " at +" << base;
                EXPECT_EQ(h->read<uint64_t>(at + 8), hi) << "selector " << int(kSel[k]) << " at +" << base;
            }
        }
    }
}

TEST(BtCryptoKat, CpuidReportsAesAndPclmulqdqAsTheHost) {
    BtPair p;
    p.load(assemble_with_hlt([](G& g) {
        g.mov(eax, 1);
        g.cpuid();
    }));
    uint64_t gpr[16] = {};
    ASSERT_TRUE(p.same(gpr, 0));   // both engines: the same CPUID
    unsigned a, b, c, d;
    ASSERT_TRUE(__get_cpuid(1, &a, &b, &c, &d));
    const uint64_t ecx = p.bt.cpu().gpr[hv::RCX];
    EXPECT_EQ((ecx >> 25) & 1, (c >> 25) & 1u);   // AES
    EXPECT_EQ((ecx >> 1) & 1, (c >> 1) & 1u);     // PCLMULQDQ
}

}  // namespace
}  // namespace popek::emu::test
