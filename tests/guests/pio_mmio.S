/* pio_mmio.S - port and memory-mapped I/O of every size against popek's test device
 * (run with --test-dev): IN/OUT of 1, 2 and 4 bytes, INS/OUTS with REP in both directions,
 * MOV of 1/2/4/8 bytes to MMIO, MOVS/STOS to and from MMIO, read-modify-write instructions on
 * MMIO. Each row reads back what was written and prints PASS or FAIL; the exit value is the
 * number of failures. Device: byte i starts as 0xA0 + (i & 0x3f), writes store bytes. */
#include "guest.inc"
#define MMIO(off) (TEST_MMIO + (off))

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    cld
    PRINT "pio/mmio test: port 0x700-0x707, mmio 0xfe000000-0xfe000fff\n"

    /* ---- port I/O, single accesses ---- */
    xor %eax, %eax
    mov $TEST_PIO, %dx
    inb %dx, %al
    CHECK "pio inb initial", %rax, $0xa0, 2
    add $2, %dx
    inw %dx, %ax
    CHECK "pio inw initial", %rax, $0xa3a2, 4
    add $2, %dx
    inl %dx, %eax
    CHECK "pio inl initial", %rax, $0xa7a6a5a4, 8

    mov $TEST_PIO+1, %dx
    mov $0x5a, %al
    outb %al, %dx
    xor %eax, %eax
    inb %dx, %al
    CHECK "pio outb/inb", %rax, $0x5a, 2
    mov $TEST_PIO+2, %dx
    mov $0x1234, %ax
    outw %ax, %dx
    xor %eax, %eax
    inw %dx, %ax
    CHECK "pio outw/inw", %rax, $0x1234, 4
    inc %dx
    xor %eax, %eax
    inb %dx, %al
    CHECK "pio inb high byte of word", %rax, $0x12, 2
    mov $TEST_PIO+4, %dx
    mov $0xdeadbeef, %eax
    outl %eax, %dx
    xor %eax, %eax
    inl %dx, %eax
    CHECK "pio outl/inl", %rax, $0xdeadbeef, 8
    add $2, %dx
    xor %eax, %eax
    inw %dx, %ax
    CHECK "pio inw high half of dword", %rax, $0xdead, 4
    mov $TEST_PIO, %dx
    inl %dx, %eax
    CHECK "pio inl bytes 0-3", %rax, $0x12345aa0, 8

    /* ---- string port I/O ---- */
    lea abcde(%rip), %rsi
    mov $5, %ecx
    mov $TEST_PIO, %dx
    rep outsb
    CHECK "rep outsb rcx after", %rcx, $0, 4
    lea abcde+5(%rip), %rax
    CHECK "rep outsb rsi advanced", %rsi, %rax
    xor %eax, %eax
    inb %dx, %al
    CHECK "rep outsb last byte wins", %rax, $'E', 2

    lea buf(%rip), %rdi
    movq $-1, (%rdi)
    mov $3, %ecx
    mov $TEST_PIO+1, %dx
    rep insb
    lea buf+3(%rip), %rax
    CHECK "rep insb rdi advanced", %rdi, %rax
    mov buf(%rip), %rax
    CHECK "rep insb x3 from 0x701", %rax, $0xffffffffff5a5a5a

    lea words(%rip), %rsi
    mov $3, %ecx
    mov $TEST_PIO+2, %dx
    rep outsw
    xor %eax, %eax
    inw %dx, %ax
    CHECK "rep outsw last word wins", %rax, $0x3333, 4

    lea buf(%rip), %rdi
    mov $2, %ecx
    mov $TEST_PIO+4, %dx
    rep insl
    mov buf(%rip), %rax
    mov $0xdeadbeefdeadbeef, %rdx
    CHECK "rep insl x2 from 0x704", %rax, %rdx

    std                             /* backwards: the first byte of "xyz" is written last */
    lea xyz+2(%rip), %rsi
    mov $3, %ecx
    mov $TEST_PIO, %dx
    rep outsb
    cld
    lea xyz-1(%rip), %rax
    CHECK "std rep outsb rsi moved down", %rsi, %rax
    xor %eax, %eax
    inb %dx, %al
    CHECK "std rep outsb last byte", %rax, $'x', 2

    lea buf(%rip), %rdi
    movq $0x77, (%rdi)
    xor %ecx, %ecx
    mov $TEST_PIO+1, %dx
    rep insb                        /* rcx = 0: no access at all */
    mov buf(%rip), %rax
    CHECK "rep insb rcx=0 no access", %rax, $0x77

    /* ---- MMIO, single accesses ---- */
    mov $MMIO(0), %rbx
    mov (%rbx), %rax
    mov $0xa7a6a5a4a3a2a1a0, %rdx
    CHECK "mmio movq initial", %rax, %rdx
    movzbl 0x40(%rbx), %eax
    CHECK "mmio movb initial +0x40", %rax, $0xa0, 2
    movzbl 0x7f(%rbx), %eax
    CHECK "mmio movb initial +0x7f", %rax, $0xdf, 2
    mov 0xff8(%rbx), %rax
    mov $0xdfdedddcdbdad9d8, %rdx
    CHECK "mmio movq initial +0xff8", %rax, %rdx

    movb $0x11, 0x10(%rbx)
    movzbl 0x10(%rbx), %eax
    CHECK "mmio movb", %rax, $0x11, 2
    movw $0x2233, 0x12(%rbx)
    movzwl 0x12(%rbx), %eax
    CHECK "mmio movw", %rax, $0x2233, 4
    movl $0x44556677, 0x14(%rbx)
    mov 0x14(%rbx), %eax
    CHECK "mmio movl", %rax, $0x44556677, 8
    mov $0x8899aabbccddeeff, %rdx
    mov %rdx, 0x18(%rbx)
    mov 0x18(%rbx), %rax
    CHECK "mmio movq", %rax, %rdx
    mov 0x10(%rbx), %rax
    mov $0x445566772233b111, %rdx
    CHECK "mmio movq of mixed writes", %rax, %rdx
    mov 0x13(%rbx), %rax
    mov $0xddeeff4455667722, %rdx
    CHECK "mmio movq unaligned +0x13", %rax, %rdx
    movq $-2, 0x400(%rbx)
    mov 0x400(%rbx), %rax
    CHECK "mmio movq imm32 sign-ext", %rax, $-2

    /* ---- MMIO, string instructions ---- */
    lea qwords(%rip), %rsi
    lea 0x100(%rbx), %rdi
    mov $4, %ecx
    rep movsq
    mov 0x118(%rbx), %rax
    mov $0x0404040404040404, %rdx
    CHECK "rep movsq ram->mmio [3]", %rax, %rdx
    mov 0x100(%rbx), %rax
    mov $0x0101010101010101, %rdx
    CHECK "rep movsq ram->mmio [0]", %rax, %rdx
    lea 0x120(%rbx), %rax
    CHECK "rep movsq rdi advanced", %rdi, %rax

    lea 0x200(%rbx), %rdi
    mov $0xcafef00d, %eax
    mov $4, %ecx
    rep stosl
    mov 0x208(%rbx), %rax
    mov $0xcafef00dcafef00d, %rdx
    CHECK "rep stosl to mmio", %rax, %rdx

    lea 0x108(%rbx), %rsi
    lea buf(%rip), %rdi
    mov $16, %ecx
    rep movsb
    mov buf+8(%rip), %rax
    mov $0x0303030303030303, %rdx
    CHECK "rep movsb mmio->ram", %rax, %rdx

    /* ---- read-modify-write on MMIO ---- */
    addl $1, 0x200(%rbx)
    mov 0x200(%rbx), %eax
    CHECK "mmio addl", %rax, $0xcafef00e, 8
    mov $0x01020304, %eax
    xchg %eax, 0x204(%rbx)
    CHECK "mmio xchg old value", %rax, $0xcafef00d, 8
    mov 0x204(%rbx), %eax
    CHECK "mmio xchg new value", %rax, $0x01020304, 8
    orb $0x0e, 0x301(%rbx)
    movzbl 0x301(%rbx), %eax
    CHECK "mmio orb", %rax, $0xaf, 2

    call guest_finish

    .section .rodata
abcde:  .ascii "ABCDE"
xyz:    .ascii "xyz"
    .balign 2
words:  .word 0x1111, 0x2222, 0x3333
    .balign 8
qwords: .quad 0x0101010101010101, 0x0202020202020202, 0x0303030303030303, 0x0404040404040404
    .data
    .balign 8
buf:    .fill 32, 1, 0
#include "guest_lib.inc"
