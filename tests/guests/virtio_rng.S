/* virtio_rng.S - drives popek's first virtio-mmio device as virtio-rng (run with --rng and no
 * --disk/--net), by polling (interrupts stay off): identity registers, feature negotiation
 * (VERSION_1 only), queue 0 (requestq, virtio 1.2 5.4.2) setup, then two requests of 16
 * device-writable bytes each; prints the bytes in hex (different in every run, the same in every
 * replay of a recording: docs/record-replay.md). Exit value = number of failed checks. */
#include "guest.inc"

#define VIO 0xd0000000        /* device 0's window (docs/virtio.md) */
#define QSIZE 8
#define DESC 0x400000         /* 16-byte aligned descriptor table */
#define AVAIL 0x401000
#define USED 0x402000
#define DATA 0x404000         /* 16 bytes per request */

/* request \slot: descriptor \slot = DATA + 16*\slot, 16 bytes, device-writable; notify queue 0 */
.macro ENTROPY_REQUEST slot
    movq $0, DATA+16*\slot
    movq $0, DATA+16*\slot+8
    movq $DATA+16*\slot, DESC+16*\slot
    movl $16, DESC+16*\slot+8
    movw $2, DESC+16*\slot+12
    movw $0, DESC+16*\slot+14
    movw $\slot, AVAIL+4+2*\slot
    movw $\slot+1, AVAIL+2
    mfence
    movl $0, 0x50(%rbx)          /* QueueNotify */
    movzwl USED+2, %eax
    CHECK "used idx", %rax, $\slot+1, 4
    movl USED+4+8*\slot+4, %eax
    CHECK "used len", %rax, $16, 4
    PRINT "random: "
    PUT_HEX DATA+16*\slot, 16
    PUT_HEX DATA+16*\slot+8, 16
    PRINT "\n"
.endm

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "virtio-rng guest: device 0 at 0xd0000000\n"
    mov $VIO, %ebx
    movl 0x000(%rbx), %eax
    CHECK "magic", %rax, $0x74726976, 8
    movl 0x008(%rbx), %eax
    CHECK "device id", %rax, $4, 2

    movl $0, 0x070(%rbx)           /* reset */
    movl $3, 0x070(%rbx)           /* ACKNOWLEDGE | DRIVER */
    movl $1, 0x024(%rbx)
    movl $1, 0x020(%rbx)           /* DriverFeatures: VERSION_1 */
    movl $0xb, 0x070(%rbx)         /* | FEATURES_OK */
    movl 0x070(%rbx), %eax
    CHECK "FEATURES_OK kept", %rax, $0xb, 2

    movl $0, 0x030(%rbx)           /* QueueSel 0 */
    movl $QSIZE, 0x038(%rbx)
    movl $DESC, 0x080(%rbx)
    movl $0, 0x084(%rbx)
    movl $AVAIL, 0x090(%rbx)
    movl $0, 0x094(%rbx)
    movl $USED, 0x0a0(%rbx)
    movl $0, 0x0a4(%rbx)
    movw $0, AVAIL
    movw $0, AVAIL+2
    movw $0, USED+2
    movl $1, 0x044(%rbx)           /* QueueReady */
    movl $0xf, 0x070(%rbx)         /* | DRIVER_OK */

    ENTROPY_REQUEST 0
    ENTROPY_REQUEST 1
    jmp guest_finish

#include "guest_lib.inc"
