#pragma once
/// Registration functions of the instruction families (one file each in src/emu/interp/).
/// See src/emu/decode/insn.h for how to add a family.
#include "emu/cpu.h"
#include "emu/decode/insn.h"
#include "emu/interp/operands.h"

namespace popek::emu {

void register_alu(HandlerTable& t);       // alu.cpp
void register_shift(HandlerTable& t);     // shift.cpp: shifts, rotates, SHLD/SHRD
void register_muldiv(HandlerTable& t);    // muldiv.cpp
void register_bits(HandlerTable& t);      // bits.cpp: BT*, BSF/BSR, TZCNT/LZCNT/POPCNT, BSWAP, SETcc
void register_random(HandlerTable& t);    // random.cpp: RDRAND, RDSEED
void register_data(HandlerTable& t);      // data.cpp: MOV family, LEA, XCHG, CMOVcc, CBW.., flags ops
void register_stack(HandlerTable& t);     // stack.cpp: PUSH/POP (GPR, segment, flags), ENTER/LEAVE
void register_control(HandlerTable& t);   // control.cpp: JMP/Jcc/CALL/RET/LOOP, INT, IRET
void register_string(HandlerTable& t);    // string.cpp: MOVS..OUTS with REP
void register_io(HandlerTable& t);        // io.cpp: IN/OUT
void register_system(HandlerTable& t);    // system.cpp: CR/DR, descriptor tables, HLT, MSR, CPUID, TSC
void register_segment(HandlerTable& t);   // segment_ops.cpp: MOV sreg, far transfers, LAR/LSL/VERR
void register_fastsys(HandlerTable& t);   // fastsys.cpp: SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS
void register_access_rights(HandlerTable& t);   // access_rights.cpp: STAC/CLAC, RDPKRU/WRPKRU
void register_legacy(HandlerTable& t);    // legacy.cpp: DAA..AAD, SALC, BOUND, LDS/LES/LSS/LFS/LGS
void register_sse_move(HandlerTable& t);    // sse_move.cpp (after register_string: MOVSD)
void register_sse_int(HandlerTable& t);     // sse_int.cpp: integer SIMD
void register_sse_fp(HandlerTable& t);      // sse_fp.cpp (after register_string: CMPSD)
void register_sse_convert(HandlerTable& t); // sse_convert.cpp: CVT*
void register_sse_crypto(HandlerTable& t);  // sse_crypto.cpp: AES-NI, PCLMULQDQ
void register_fxsave(HandlerTable& t);      // fxsave.cpp: FXSAVE/FXRSTOR, LDMXCSR/STMXCSR
void register_x87_control(HandlerTable& t); // x87_control.cpp: FNINIT FLDCW FNSTSW FNSAVE ...
void register_x87_exec(HandlerTable& t);    // x87_exec.cpp: x87 arithmetic, loads, stores
void register_mmx(HandlerTable& t);         // mmx.cpp: MMX forms (last: wraps the XMM selectors)

/// CPUID features the host must have because the engine runs them on the host (POPCNT, LZCNT..).
bool host_has_popcnt();
bool host_has_lzcnt();
bool host_has_bmi1();
bool host_has_aes();         // AESENC.. AESKEYGENASSIST (sse_crypto.cpp)
bool host_has_pclmulqdq();   // PCLMULQDQ (sse_crypto.cpp)

}  // namespace popek::emu
