/* fault_bp.S - #BP (vector 3) and #DB from INT1: traps, so the saved RIP is the next instruction;
 * INT3 (0xCC), INT 3 (0xCD 0x03), INT1/ICEBP (0xF1), in ring 0 and ring 3 (the #BP gate is DPL3). */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class #BP"
    KFAULT "#BP int3", 3, 0, 0, 1, int3
    KFAULT "#BP int 3 (two-byte form)", 3, 0, 0, 2, .byte 0xcd, 0x03
    KFAULT "#DB int1 (icebp)", 1, 0, 0, 1, .byte 0xf1
    UFAULT "#BP ring3 int3", 3, 0, 0, 1, int3
    UFAULT "#BP ring3 int 3 (two-byte form)", 3, 0, 0, 2, .byte 0xcd, 0x03
    call guest_finish
#include "guest_lib.inc"
