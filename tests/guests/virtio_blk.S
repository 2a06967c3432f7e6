/* virtio_blk.S - drives popek's first virtio-mmio device (run with --disk FILE, FILE >= 3 sectors
 * and < 16) the way Linux's virtio_mmio + virtio_blk do, by polling (interrupts stay off):
 * identity registers, feature negotiation (VERSION_1 only), queue 0 setup, then three requests:
 * read sector 1 (expects "POPEKVIO" at its start), write "GUESTWR!" + 504 zero bytes to sector 2,
 * and a read of sector 16 (out of range: IOERR). Exit value = number of failed checks. */
#include "guest.inc"

#define VIO 0xd0000000        /* device 0's window (docs/virtio.md) */
#define QSIZE 8
#define DESC 0x400000         /* 16-byte aligned descriptor table */
#define AVAIL 0x401000
#define USED 0x402000
#define HDR 0x403000          /* struct virtio_blk_req header */
#define DATA 0x404000         /* 512-byte data buffer */
#define STATUS 0x405000

/* desc index, addr, len, flags, next */
.macro DESCRIPTOR i, addr, len, flags, next
    movq $\addr, DESC+16*\i
    movl $\len, DESC+16*\i+8
    movw $\flags, DESC+16*\i+12
    movw $\next, DESC+16*\i+14
.endm

/* one request through descriptors 0-2: type, sector, data flags (2 = device writes); publishes
 * avail slot \slot and notifies queue 0 */
.macro REQUEST type, sector, dflags, slot
    movl $\type, HDR
    movl $0, HDR+4
    movq $\sector, HDR+8
    movb $0xee, STATUS
    DESCRIPTOR 0, HDR, 16, 1, 1
    DESCRIPTOR 1, DATA, 512, 1|\dflags, 2
    DESCRIPTOR 2, STATUS, 1, 2, 0
    movw $0, AVAIL+4+2*\slot
    movw $\slot+1, AVAIL+2
    mfence
    movl $0, 0x50(%rbx)          /* QueueNotify */
.endm

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "virtio-blk guest: device 0 at 0xd0000000\n"
    mov $VIO, %ebx
    xor %eax, %eax
    movl 0x000(%rbx), %eax
    CHECK "magic", %rax, $0x74726976, 8
    movl 0x004(%rbx), %eax
    CHECK "version", %rax, $2, 2
    movl 0x008(%rbx), %eax
    CHECK "device id", %rax, $2, 2

    movl $0, 0x070(%rbx)           /* reset */
    movl $3, 0x070(%rbx)           /* ACKNOWLEDGE | DRIVER */
    movl $1, 0x014(%rbx)           /* DeviceFeaturesSel = 1 */
    movl 0x010(%rbx), %eax
    and $1, %eax
    CHECK "VERSION_1 offered", %rax, $1, 2
    movl $0, 0x024(%rbx)
    movl $0, 0x020(%rbx)
    movl $1, 0x024(%rbx)
    movl $1, 0x020(%rbx)           /* DriverFeatures: VERSION_1 */
    movl $0xb, 0x070(%rbx)         /* | FEATURES_OK */
    movl 0x070(%rbx), %eax
    CHECK "FEATURES_OK kept", %rax, $0xb, 2

    movl $0, 0x030(%rbx)           /* QueueSel 0 */
    movl 0x034(%rbx), %eax
    CHECK "QueueNumMax", %rax, $256, 4
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
    movl 0x044(%rbx), %eax
    CHECK "QueueReady", %rax, $1, 2
    movl $0xf, 0x070(%rbx)         /* | DRIVER_OK */
    movl 0x100(%rbx), %eax         /* config: capacity (low half) */
    mov %rax, %r12
    PRINT "capacity in sectors: "
    PUT_DEC %r12
    PRINT "\n"

    REQUEST 0, 1, 2, 0             /* read sector 1 */
    movzwl USED+2, %eax
    CHECK "read: used idx", %rax, $1, 4
    movl USED+8, %eax
    CHECK "read: used len", %rax, $513, 4
    movzbl STATUS, %eax
    CHECK "read: status OK", %rax, $0, 2
    movq DATA, %rax
    CHECK "read: POPEKVIO", %rax, $0x4f49564b45504f50, 16
    movl 0x060(%rbx), %eax
    CHECK "InterruptStatus used", %rax, $1, 2
    movl $1, 0x064(%rbx)           /* InterruptACK */
    movl 0x060(%rbx), %eax
    CHECK "InterruptStatus acked", %rax, $0, 2

    mov $DATA, %edi                /* "GUESTWR!" then zeros */
    mov $64, %ecx
    xor %eax, %eax
    rep stosq
    movq $0x2152575453455547, %rax
    movq %rax, DATA
    REQUEST 1, 2, 0, 1             /* write sector 2 */
    movzwl USED+2, %eax
    CHECK "write: used idx", %rax, $2, 4
    movzbl STATUS, %eax
    CHECK "write: status OK", %rax, $0, 2

    REQUEST 0, 16, 2, 2            /* read past the end */
    movzwl USED+2, %eax
    CHECK "oob read: used idx", %rax, $3, 4
    movzbl STATUS, %eax
    CHECK "oob read: status IOERR", %rax, $1, 2
    movl 0x070(%rbx), %eax
    CHECK "device still OK", %rax, $0xf, 2
    jmp guest_finish

#include "guest_lib.inc"
