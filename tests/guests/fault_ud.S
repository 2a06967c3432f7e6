/* fault_ud.S - #UD (vector 6, no error code, saved RIP = the instruction): UD2, LOCK on an
 * instruction that cannot be locked, LOCK with a register destination, PUSH ES (invalid in
 * 64-bit mode), in ring 0 and ring 3. (UD1, 0F B9, is left out: on a PVM host CPL0 code runs in
 * KVM's instruction emulator, which stops the VM on it instead of raising #UD.) */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class #UD"
    KFAULT "#UD ud2", 6, 0, 0, 0, ud2
    KFAULT "#UD lock nop", 6, 0, 0, 0, .byte 0xf0, 0x90
    KFAULT "#UD lock add reg,reg", 6, 0, 0, 0, .byte 0xf0, 0x01, 0xc0
    KFAULT "#UD push es in 64-bit mode", 6, 0, 0, 0, .byte 0x06
    UFAULT "#UD ring3 ud2", 6, 0, 0, 0, ud2
    UFAULT "#UD ring3 lock nop", 6, 0, 0, 0, .byte 0xf0, 0x90
    call guest_finish
#include "guest_lib.inc"
