/* fault_int.S - INT n (SDM Vol. 3A 6.12.1.1): the gate's DPL is checked against CPL for software
 * interrupts (#GP with error code vector*8+2, IDT bit set), a not-present gate is #NP, INTO is
 * invalid in 64-bit mode (#UD). INT n is a trap: saved RIP = the next instruction. */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class INT n"
    KFAULT "INT 0x41 (DPL3 gate) ring0", VEC_DPL3, 0, 0, 2, int $VEC_DPL3
    KFAULT "INT 0x40 (DPL0 gate) ring0", VEC_DPL0, 0, 0, 2, int $VEC_DPL0
    KFAULT "INT 0x42 (not present) -> #NP", 11, VEC_NOT_PRESENT*8+2, 0, 0, int $VEC_NOT_PRESENT
    KFAULT "INTO in 64-bit mode -> #UD", 6, 0, 0, 0, .byte 0xce
    UFAULT "INT 0x41 (DPL3 gate) ring3", VEC_DPL3, 0, 0, 2, int $VEC_DPL3
    UFAULT "INT 0x40 (DPL0 gate) ring3 -> #GP", 13, VEC_DPL0*8+2, 0, 0, int $VEC_DPL0
    UFAULT "INT 0x42 (DPL0, not present) ring3", 13, VEC_NOT_PRESENT*8+2, 0, 0, int $VEC_NOT_PRESENT
    UFAULT "INT 0x0d (#GP vector, DPL0) ring3", 13, 13*8+2, 0, 0, int $13
    call guest_finish
#include "guest_lib.inc"
