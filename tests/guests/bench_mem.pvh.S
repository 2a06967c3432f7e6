/* bench_mem.pvh.S - the memory-heavy guest of issue 12 (bench/mem_bench, tests/backend/
 * bench_mem_test). A PVH guest that enters 64-bit long mode (pvh_long.inc) and runs one part,
 * chosen by the first word of the command line (popek --cmdline, QEMU -append):
 *   0  nothing (the fixed cost of a boot, subtracted by the bench)
 *   a  memcpy of 64 MiB with one `rep movsb` (what Linux's memcpy does on ERMS/FSRM CPUs, and
 *      glibc's between 2 KiB and its non-temporal threshold), 4 times; the destination starts
 *      64 MiB + 4 KiB after the source, as glibc's malloc typically places two 64 MiB blocks
 *   g  the same memcpy as a loop of 8-byte loads and stores (gcc -O2's code for a copy loop of
 *      uint64_t), 4 times: same data, so the same checksum as part a
 *   h  part g with the destination exactly 64 MiB after the source: both streams hit the same
 *      entry of a direct-mapped TLB of up to 16 Ki entries (a stress case, same checksum)
 *   b  a byte-wise scan of 64 MiB counting '\n' (wc -l's loop), 4 times
 *   c  a walk of a circular linked list of 1 Mi 64-byte nodes in shuffled order (pointer
 *      chasing over 64 MiB), 4 laps; the shuffle (Fisher-Yates) is part of the work
 *   d  a sieve of Eratosthenes over 32 Mi bytes (memset, mark, count), twice
 *   e  recursion 1 Mi calls deep (16 MiB of stack), 64 times
 *   f  a bytecode loop dispatching 16 opcodes through a jump table (`jmp *(%r10,%rcx,8)`: a C
 *      switch, its table's address in a register), 64 KiB of random opcodes run 512 times
 * A trailing "s" (e.g. "as") shrinks every size 64 times (repetitions stay): the quick variant
 * for the equivalence test. The guest prints "BENCH-MEM part=X NAME checksum=<16 hex>" on COM1
 * and exits through debug-exit 0 (popek status 1, QEMU status 1). Needs 192 MiB of RAM. */
#include "guest.inc"
#include "pvh32.inc"
#include "pvh_long.inc"

#define BUF 0x2000000           /* 32 MiB: every part's data */
#define BUF2 0x6000000          /* 96 MiB: memcpy's destination (+4 KiB), the list's permutation */
#define STACK_TOP 0xc000000     /* 192 MiB; part e recurses down to 176 MiB */
#define MIB64 0x4000000

PVH_LONG_ENTRY STACK_TOP
    cld
    xor %r15d, %r15d            /* r15 = size shift: 0, or 6 for the small variant */
    lea pvh_cmdline(%rip), %rsi
    cmpb $'s', 1(%rsi)
    jne 1f
    mov $6, %r15d
1:  mov $0x2545f4914f6cdd1d, %r14  /* xorshift64 state; r13 = the part's table entry */
    movzbl (%rsi), %eax
    lea parts(%rip), %r13
2:  movzbl (%r13), %ecx
    test %ecx, %ecx
    jz unknown_part
    cmp %eax, %ecx
    je 3f
    add $16, %r13
    jmp 2b
3:  call *8(%r13)
    mov %rax, %r12
    PRINT "BENCH-MEM part="
    mov (%r13), %al
    call guest_putc
    mov $' ', %al
    call guest_putc
    lea 1(%r13), %rsi
    call guest_puts
    PRINT " checksum="
    PUT_HEX %r12, 16
    PRINT "\n"
    EXIT 0
    jmp guest_park
unknown_part:
    PRINT "BENCH-MEM unknown part (command line: 0, a-h, optional s)\n"
    EXIT 0x3e
    jmp guest_park

/* rdx = size >> r15 (size in rdx on entry) */
.macro SCALE reg
    push %rcx
    mov %r15d, %ecx
    shr %cl, \reg
    pop %rcx
.endm

/* rng: rax = next xorshift64 value (Marsaglia 2003, 13/7/17); clobbers rdx */
rng:
    mov %r14, %rax
    mov %rax, %rdx
    shl $13, %rdx
    xor %rdx, %rax
    mov %rax, %rdx
    shr $7, %rdx
    xor %rdx, %rax
    mov %rax, %rdx
    shl $17, %rdx
    xor %rdx, %rax
    mov %rax, %r14
    ret

part_none:
    xor %eax, %eax
    ret

/* a, g, h: one random qword every 256 bytes of the source, then the copy, then a checksum of those
 * qwords and the bytes between them in the destination. */
part_memcpy:
    call memcpy_source
    mov $(BUF2 + 4096), %r9d
    mov $4, %r10d
2:  mov $BUF, %esi
    mov %r9, %rdi
    mov %r8, %rcx
    rep movsb
    dec %r10d
    jnz 2b
    jmp memcpy_sum
part_memcpy_loop:
    mov $(BUF2 + 4096), %r9d
    jmp 0f
part_memcpy_alias:
    mov $BUF2, %r9d
0:  call memcpy_source
    mov $BUF, %esi
    mov $4, %r10d
2:  xor %eax, %eax
1:  mov (%rsi,%rax), %rdx
    mov %rdx, (%r9,%rax)
    add $8, %rax
    cmp %r8, %rax
    jb 1b
    dec %r10d
    jnz 2b
memcpy_sum:                     /* r9 = the destination */
    xor %eax, %eax
    xor %ebx, %ebx
3:  rol $5, %rax
    add (%r9,%rbx), %rax
    add 136(%r9,%rbx), %rax     /* never written: 0 */
    add $256, %rbx
    cmp %r8, %rbx
    jb 3b
    ret

/* r8 = the size; one random qword every 256 bytes of the source */
memcpy_source:
    mov $MIB64, %r8
    SCALE %r8
    xor %ebx, %ebx
1:  call rng
    mov %rax, BUF(%rbx)
    add $256, %rbx
    cmp %r8, %rbx
    jb 1b
    ret

/* b: a '\n' at random gaps of 1-128 bytes, then count them and sum their offsets. */
part_scan:
    mov $MIB64, %r8
    SCALE %r8
    xor %ebx, %ebx
1:  movb $'\n', BUF(%rbx)
    call rng
    and $127, %eax
    lea 1(%rbx,%rax), %rbx
    cmp %r8, %rbx
    jb 1b
    mov $4, %r9d
    xor %eax, %eax              /* lines */
    xor %r10d, %r10d            /* sum of offsets */
2:  mov $BUF, %esi
    lea (%rsi,%r8), %rdi
3:  cmpb $'\n', (%rsi)
    jne 4f
    inc %rax
    add %rsi, %r10
4:  inc %rsi
    cmp %rdi, %rsi
    jne 3b
    dec %r9d
    jnz 2b
    shl $40, %rax
    xor %r10, %rax
    ret

/* c: nodes of 64 bytes at BUF {next, value}; perm (u32) at BUF2. */
part_list:
    mov $(MIB64 / 64), %r8      /* node count */
    SCALE %r8
    xor %ecx, %ecx
1:  mov %ecx, BUF2(,%rcx,4)     /* perm[i] = i */
    inc %ecx
    cmp %r8, %rcx
    jb 1b
    lea -1(%r8), %rbx           /* Fisher-Yates: for i = n-1 .. 1: swap perm[i], perm[rng % (i+1)] */
2:  call rng
    lea 1(%rbx), %rcx
    mul %rcx                    /* rdx = (rng * (i+1)) >> 64 */
    mov BUF2(,%rbx,4), %eax
    mov BUF2(,%rdx,4), %ecx
    mov %ecx, BUF2(,%rbx,4)
    mov %eax, BUF2(,%rdx,4)
    dec %rbx
    jnz 2b
    xor %ebx, %ebx              /* node[perm[k]] = {&node[perm[k+1 mod n]], k * golden} */
    mov $0x9e3779b97f4a7c15, %r9
3:  mov BUF2(,%rbx,4), %eax
    shl $6, %rax
    lea 1(%rbx), %rcx
    cmp %r8, %rcx
    jb 4f
    xor %ecx, %ecx
4:  mov BUF2(,%rcx,4), %ecx
    shl $6, %rcx
    add $BUF, %rcx
    mov %rcx, BUF(%rax)
    mov %rbx, %rdx
    imul %r9, %rdx
    mov %rdx, BUF+8(%rax)
    inc %rbx
    cmp %r8, %rbx
    jb 3b
    mov BUF2, %edi              /* walk from node[perm[0]] */
    shl $6, %rdi
    add $BUF, %rdi
    xor %eax, %eax
    mov %r8, %rcx
    shl $2, %rcx                /* 4 laps */
5:  add 8(%rdi), %rax
    rol $1, %rax
    mov (%rdi), %rdi
    dec %rcx
    jnz 5b
    ret

/* d: bytes at BUF, 1 = prime; checksum = count << 40 ^ sum of the primes. Twice. */
part_sieve:
    mov $0x2000000, %r8         /* 32 Mi */
    SCALE %r8
    mov $2, %r11d
    xor %r12d, %r12d
0:  mov $BUF, %edi              /* memset(a, 1, n) */
    mov $1, %eax
    mov %r8, %rcx
    rep stosb
    mov $2, %ebx                /* for p = 2; p * p < n; p++ */
1:  mov %rbx, %rax
    imul %rbx, %rax
    cmp %r8, %rax
    jae 4f
    cmpb $0, BUF(%rbx)
    je 3f
2:  movb $0, BUF(%rax)          /* for m = p * p; m < n; m += p */
    add %rbx, %rax
    cmp %r8, %rax
    jb 2b
3:  inc %rbx
    jmp 1b
4:  xor %eax, %eax              /* count, sum */
    xor %r10d, %r10d
    mov $2, %ebx
5:  cmpb $0, BUF(%rbx)
    je 6f
    inc %rax
    add %rbx, %r10
6:  inc %rbx
    cmp %r8, %rbx
    jb 5b
    shl $40, %rax
    xor %r10, %rax
    rol $7, %r12
    xor %rax, %r12
    dec %r11d
    jnz 0b
    mov %r12, %rax
    ret

/* e: rec(n) = n ? rec(n - 1) * 31 + n : seed, 64 times with different seeds */
part_recursion:
    mov $0x100000, %r8          /* 1 Mi deep */
    SCALE %r8
    mov $64, %r9d
    xor %r12d, %r12d
1:  mov %r8, %rdi
    mov %r9, %rsi
    call rec
    rol $7, %r12
    xor %rax, %r12
    dec %r9d
    jnz 1b
    mov %r12, %rax
    ret
rec:
    test %rdi, %rdi
    jz 1f
    push %rdi
    dec %rdi
    call rec
    pop %rdi
    imul $31, %rax, %rax
    add %rdi, %rax
    ret
1:  mov %rsi, %rax
    ret

/* f: 64 KiB of random opcodes 0-15 at BUF, run 512 times by a switch loop over rax and rbx */
part_switch:
    mov $0x10000, %r8
    SCALE %r8
    xor %ebx, %ebx
1:  call rng
    shr $60, %rax
    mov %al, BUF(%rbx)
    inc %rbx
    cmp %r8, %rbx
    jb 1b
    mov $0x0123456789abcdef, %rax
    mov $0x0fedcba987654321, %rbx
    mov $512, %r9d
    mov $jump_table, %r10d      /* ELF32: no 32S relocation for jump_table(,%rcx,8) */
2:  mov $BUF, %esi
    lea (%rsi,%r8), %rdi
dispatch:
    cmp %rdi, %rsi
    jae 3f
    movzbl (%rsi), %ecx
    inc %rsi
    jmp *(%r10,%rcx,8)
3:  dec %r9d
    jnz 2b
    xor %rbx, %rax
    ret
op0:  add $1, %rax
      jmp dispatch
op1:  xor %rbx, %rax
      jmp dispatch
op2:  rol $3, %rax
      jmp dispatch
op3:  add %rax, %rbx
      jmp dispatch
op4:  imul $7, %rax, %rax
      jmp dispatch
op5:  sub %rbx, %rax
      jmp dispatch
op6:  ror $11, %rbx
      jmp dispatch
op7:  not %rax
      jmp dispatch
op8:  lea 3(%rax,%rbx,2), %rax
      jmp dispatch
op9:  xchg %rax, %rbx
      jmp dispatch
op10: shr $1, %rbx
      jmp dispatch
op11: or $0x100, %rax
      jmp dispatch
op12: and %rax, %rbx
      jmp dispatch
op13: neg %rbx
      jmp dispatch
op14: bswap %rax
      jmp dispatch
op15: add $0x55, %bl
      jmp dispatch

    .section .rodata
    .balign 8
jump_table:                     /* .quad op0 needs R_X86_64_64, absent from ELF32: low, high */
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .long op\n, 0
    .endr
    .balign 16
parts:                          /* {selector, name (at most 6 characters), routine (low, high)} */
    .macro PART sel, name, routine
    .balign 16
    .byte \sel
    .asciz "\name"
    .balign 8
    .long \routine, 0
    .endm
    PART '0', "none", part_none
    PART 'a', "memcpy", part_memcpy
    PART 'g', "cpyq", part_memcpy_loop
    PART 'h', "cpyq64", part_memcpy_alias
    PART 'b', "scan", part_scan
    PART 'c', "list", part_list
    PART 'd', "sieve", part_sieve
    PART 'e', "recur", part_recursion
    PART 'f', "switch", part_switch
    .balign 16
    .byte 0
    .text

#include "guest_lib.inc"
