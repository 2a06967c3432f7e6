/* bench_alu.pvh.S - an ALU-heavy PVH guest for the instruction-rate benchmark (bench/insn_rate).
 * Runs ITERATIONS rounds of a 16-instruction mix (add/sub/xor/and/or/shifts/rotates/imul/lea/
 * cmp/jcc over registers and one memory word), then prints the marker and a checksum on COM1 and
 * exits through debug-exit (status 1). 32-bit protected mode, paging off, as PVH enters it; the
 * same ELF runs under QEMU (-kernel, isa-debug-exit). Instructions executed: 16 * ITERATIONS + ~40. */
#ifndef ITERATIONS
#define ITERATIONS 5000000
#endif
#include "pvh32.inc"
PVH_ENTRY
    mov $ITERATIONS, %ecx
    mov $0x12345678, %eax
    mov $0x9abcdef0, %ebx
    mov $0x0f0f0f0f, %edx
    xor %esi, %esi
    mov $scratch, %edi
1:  add %ebx, %eax
    xor %eax, %edx
    rol $5, %edx
    sub %edx, %ebx
    and $0x7fffffff, %ebx
    or %ecx, %esi
    shr $3, %esi
    imul $31, %eax, %eax
    lea 7(%eax,%ebx,2), %ebx
    add %eax, (%edi)
    cmp %ebx, %edx
    jae 2f
    inc %esi
2:  xor %esi, %eax
    dec %ecx
    jnz 1b
    add (%edi), %eax
    mov %eax, %ebp
    mov $msg, %esi
    call puts
    mov $8, %ecx                /* checksum: eax in hex */
3:  rol $4, %ebp
    mov %ebp, %eax
    and $0xf, %eax
    mov hexdigits(%eax), %al
    mov $0x3f8, %dx
    out %al, %dx
    loop 3b
    mov $'\n', %al
    out %al, %dx
    mov $0xf4, %dx
    xor %eax, %eax
    out %eax, %dx               /* debug-exit 0: status 1 */
4:  hlt
    jmp 4b

puts:
    mov $0x3f8, %dx
5:  lodsb
    test %al, %al
    jz 6f
    out %al, %dx
    jmp 5b
6:  ret

msg:        .asciz "GUEST-INIT-REACHED bench-alu checksum="
hexdigits:  .ascii "0123456789abcdef"
    .balign 4096                /* data on its own page: a store into a code page is self-modifying code */
scratch:    .long 0
