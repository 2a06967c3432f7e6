#pragma once
/// X-macro lists of the integer SIMD instructions that run as the host instruction on two
/// register operands (mnemonic suffix, host mnemonic), shared by the XMM forms (sse_int.cpp) and
/// the MMX forms (mmx.cpp).

/// Instructions with both an XMM and an MMX form.
#define POPEK_INT_OPS(X)                                                                           \
    X(PADDB, "paddb") X(PADDW, "paddw") X(PADDD, "paddd") X(PADDQ, "paddq")                          \
    X(PADDSB, "paddsb") X(PADDSW, "paddsw") X(PADDUSB, "paddusb") X(PADDUSW, "paddusw")              \
    X(PSUBB, "psubb") X(PSUBW, "psubw") X(PSUBD, "psubd") X(PSUBQ, "psubq")                          \
    X(PSUBSB, "psubsb") X(PSUBSW, "psubsw") X(PSUBUSB, "psubusb") X(PSUBUSW, "psubusw")              \
    X(PMULLW, "pmullw") X(PMULHW, "pmulhw") X(PMULHUW, "pmulhuw") X(PMULUDQ, "pmuludq")              \
    X(PMADDWD, "pmaddwd") X(PAVGB, "pavgb") X(PAVGW, "pavgw") X(PSADBW, "psadbw")                    \
    X(PMINUB, "pminub") X(PMAXUB, "pmaxub") X(PMINSW, "pminsw") X(PMAXSW, "pmaxsw")                  \
    X(PCMPEQB, "pcmpeqb") X(PCMPEQW, "pcmpeqw") X(PCMPEQD, "pcmpeqd")                                \
    X(PCMPGTB, "pcmpgtb") X(PCMPGTW, "pcmpgtw") X(PCMPGTD, "pcmpgtd")                                \
    X(PAND, "pand") X(PANDN, "pandn") X(POR, "por") X(PXOR, "pxor")                                  \
    X(PUNPCKLBW, "punpcklbw") X(PUNPCKLWD, "punpcklwd") X(PUNPCKLDQ, "punpckldq")                    \
    X(PUNPCKHBW, "punpckhbw") X(PUNPCKHWD, "punpckhwd") X(PUNPCKHDQ, "punpckhdq")                    \
    X(PACKSSWB, "packsswb") X(PACKSSDW, "packssdw") X(PACKUSWB, "packuswb")                          \
    X(PSHUFB, "pshufb") X(PHADDW, "phaddw") X(PHADDD, "phaddd") X(PHADDSW, "phaddsw")                \
    X(PHSUBW, "phsubw") X(PHSUBD, "phsubd") X(PHSUBSW, "phsubsw") X(PMADDUBSW, "pmaddubsw")          \
    X(PMULHRSW, "pmulhrsw") X(PSIGNB, "psignb") X(PSIGNW, "psignw") X(PSIGND, "psignd")              \
    X(PABSB, "pabsb") X(PABSW, "pabsw") X(PABSD, "pabsd")
#define POPEK_SHIFT_OPS(X)                                                                         \
    X(PSLLW, "psllw") X(PSLLD, "pslld") X(PSLLQ, "psllq") X(PSRLW, "psrlw") X(PSRLD, "psrld")        \
    X(PSRLQ, "psrlq") X(PSRAW, "psraw") X(PSRAD, "psrad")

/// XMM-only (no MMX encoding).
#define POPEK_INT_OPS_XMM_ONLY(X) X(PUNPCKLQDQ, "punpcklqdq") X(PUNPCKHQDQ, "punpckhqdq")
