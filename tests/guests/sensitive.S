/* sensitive.S - the x86 instructions that are sensitive but not privileged (Popek & Goldberg
 * 1974; Robin & Irvine 2000): SGDT, SIDT, SLDT, STR, SMSW, PUSHF/POPF (IF and IOPL), LAR, LSL,
 * VERR, VERW and MOV from segment registers, executed by the same probe code in ring 0 and in
 * ring 3. In ring 3 none of them faults (CR4.UMIP is off): they reveal ring-0 state or silently
 * ignore the change asked for. Every result is printed in hex; the backend test holds the
 * expected values, and compares the output across engines. The guest itself checks what only it
 * knows (the addresses of its GDT and IDT) and exits with the number of failed checks.
 * Results hold PATTERN where an instruction left its destination untouched. Ring 3 goes first,
 * so its results are printed even where an engine cannot run the ring-0 half. */
#include "guest.inc"
#include "cpu.inc"

#define PATTERN 0x5555555555555555
/* results layout (bytes) */
#define R_SGDT      0
#define R_SIDT      16
#define R_SLDT_M16  32
#define R_SLDT_R64  40
#define R_STR_M16   48
#define R_STR_R64   56
#define R_SMSW_M16  64
#define R_SMSW_R64  72
#define R_SREG      80      /* cs ds es fs gs ss, 8 bytes each */
#define R_PUSHF     128
#define R_POPF_IF   136
#define R_POPF_IOPL 144
#define R_SEL       152     /* per selector: lar, lar zf, lsl, lsl zf, verr zf, verw zf */
#define SEL_BYTES   48
#define NSEL        13
#define R_SIZE      (R_SEL + NSEL * SEL_BYTES)

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    CPU_ENTER
    PRINT "sensitive instructions, ring 3 and ring 0\n"
    lea results_ring3(%rip), %rbx
    call prefill
    lea user_probe(%rip), %rdi
    call call_user
    CHECK "ring3 left through USER_EXIT", fault_vector(%rip), $VEC_USER_EXIT, 2
    lea user_probe_end(%rip), %rax
    CHECK "ring3 probe ran to its end", fault_rip(%rip), %rax
    lea results_ring3(%rip), %rbx
    lea ring3_s(%rip), %r13
    call print_results

    /* the IRETQ to ring 3 nulled DS and ES; the #UD back to ring 0 loaded SS with a NULL
     * selector (SDM Vol. 3A 6.14.2), which ring 0 keeps: the ring-0 probe reports ss=0 */
    mov $KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    lea results_ring0(%rip), %rbx
    call prefill
    call probe
    lea ring0_s(%rip), %r13
    call print_results

    lea gdt(%rip), %r8
    lea idt(%rip), %r9
    movzwl results_ring0+R_SGDT(%rip), %eax
    CHECK "ring0 sgdt limit", %rax, $GDT_LIMIT, 4
    CHECK "ring0 sgdt base = gdt", results_ring0+R_SGDT+2(%rip), %r8
    movzwl results_ring0+R_SIDT(%rip), %eax
    CHECK "ring0 sidt limit", %rax, $IDT_LIMIT, 4
    CHECK "ring0 sidt base = idt", results_ring0+R_SIDT+2(%rip), %r9
    movzwl results_ring3+R_SGDT(%rip), %eax
    CHECK "ring3 sgdt limit", %rax, $GDT_LIMIT, 4
    CHECK "ring3 sgdt base = gdt", results_ring3+R_SGDT+2(%rip), %r8
    movzwl results_ring3+R_SIDT(%rip), %eax
    CHECK "ring3 sidt limit", %rax, $IDT_LIMIT, 4
    CHECK "ring3 sidt base = idt", results_ring3+R_SIDT+2(%rip), %r9
    call guest_finish

/* ring-3 entry: the same probe, then one line through the TSS I/O bitmap, then back */
user_probe:
    lea results_ring3(%rip), %rbx
    call probe
    PRINT "ring3 wrote this line to COM1 through the TSS I/O permission bitmap\n"
user_probe_end:
    USER_EXIT

/* prefill: the results at rbx <- PATTERN */
prefill:
    push %rdi
    push %rcx
    push %rax
    mov %rbx, %rdi
    mov $PATTERN, %rax
    mov $R_SIZE / 8, %ecx
    cld
    rep stosq
    pop %rax
    pop %rcx
    pop %rdi
    ret

/* probe: runs in ring 0 or ring 3, stores every result at rbx. Clobbers rax, rcx, rdx, rsi, r12. */
probe:
    sgdt R_SGDT(%rbx)
    sidt R_SIDT(%rbx)
    sldt R_SLDT_M16(%rbx)
    mov $PATTERN, %rax
    sldt %rax
    mov %rax, R_SLDT_R64(%rbx)
    str R_STR_M16(%rbx)
    mov $PATTERN, %rax
    str %rax
    mov %rax, R_STR_R64(%rbx)
    smsw R_SMSW_M16(%rbx)
    mov $PATTERN, %rax
    smsw %rax
    mov %rax, R_SMSW_R64(%rbx)
    mov $PATTERN, %rax
    mov %cs, %rax
    mov %rax, R_SREG+0(%rbx)
    mov $PATTERN, %rax
    mov %ds, %rax
    mov %rax, R_SREG+8(%rbx)
    mov $PATTERN, %rax
    mov %es, %rax
    mov %rax, R_SREG+16(%rbx)
    mov $PATTERN, %rax
    mov %fs, %rax
    mov %rax, R_SREG+24(%rbx)
    mov $PATTERN, %rax
    mov %gs, %rax
    mov %rax, R_SREG+32(%rbx)
    mov $PATTERN, %rax
    mov %ss, %rax
    mov %rax, R_SREG+40(%rbx)

    cmp %eax, %eax                  /* arithmetic flags fully defined: ZF PF set, rest clear */
    pushfq
    pop %rax
    mov %rax, R_PUSHF(%rbx)
    mov %rax, %rdx
    xor $0x200, %rax                /* flip IF */
    push %rax
    popfq
    pushfq
    pop %rax
    mov %rax, R_POPF_IF(%rbx)
    push %rdx
    popfq
    mov %rdx, %rax
    or $0x3000, %rax                /* IOPL = 3 */
    push %rax
    popfq
    pushfq
    pop %rax
    mov %rax, R_POPF_IOPL(%rbx)
    push %rdx
    popfq

    lea R_SEL(%rbx), %rsi
    xor %r12d, %r12d
1:  lea selectors(%rip), %rax
    movzwl (%rax,%r12,2), %edx
    mov $PATTERN, %rax
    lar %dx, %rax
    setz %cl
    movzbl %cl, %ecx
    mov %rax, 0(%rsi)
    mov %rcx, 8(%rsi)
    mov $PATTERN, %rax
    lsl %dx, %rax
    setz %cl
    movzbl %cl, %ecx
    mov %rax, 16(%rsi)
    mov %rcx, 24(%rsi)
    verr %dx
    setz %cl
    movzbl %cl, %ecx
    mov %rcx, 32(%rsi)
    verw %dx
    setz %cl
    movzbl %cl, %ecx
    mov %rcx, 40(%rsi)
    add $SEL_BYTES, %rsi
    inc %r12d
    cmp $NSEL, %r12d
    jb 1b
    ret

/* print_results: rbx = results, r13 = "ring0"/"ring3" */
.macro RING_LABEL
    mov %r13, %rsi
    call guest_puts
.endm
print_results:
    RING_LABEL
    PRINT " sgdt limit=0x"
    movzwl R_SGDT(%rbx), %eax
    PUT_HEX %rax, 4
    PRINT " base=0x"
    PUT_HEX R_SGDT+2(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " sidt limit=0x"
    movzwl R_SIDT(%rbx), %eax
    PUT_HEX %rax, 4
    PRINT " base=0x"
    PUT_HEX R_SIDT+2(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " sldt m16=0x"
    PUT_HEX R_SLDT_M16(%rbx), 4
    PRINT " reg=0x"
    PUT_HEX R_SLDT_R64(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " str m16=0x"
    PUT_HEX R_STR_M16(%rbx), 4
    PRINT " reg=0x"
    PUT_HEX R_STR_R64(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " smsw m16=0x"
    PUT_HEX R_SMSW_M16(%rbx), 4
    PRINT " reg=0x"
    PUT_HEX R_SMSW_R64(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " mov-sreg cs=0x"
    PUT_HEX R_SREG+0(%rbx), 16
    PRINT " ds=0x"
    PUT_HEX R_SREG+8(%rbx), 16
    PRINT " es=0x"
    PUT_HEX R_SREG+16(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " mov-sreg fs=0x"
    PUT_HEX R_SREG+24(%rbx), 16
    PRINT " gs=0x"
    PUT_HEX R_SREG+32(%rbx), 16
    PRINT " ss=0x"
    PUT_HEX R_SREG+40(%rbx), 16
    PRINT "\n"
    RING_LABEL
    PRINT " pushf=0x"
    PUT_HEX R_PUSHF(%rbx), 16
    PRINT " after-popf-flip-if=0x"
    PUT_HEX R_POPF_IF(%rbx), 16
    PRINT " after-popf-iopl3=0x"
    PUT_HEX R_POPF_IOPL(%rbx), 16
    PRINT "\n"
    lea R_SEL(%rbx), %rsi
    xor %r12d, %r12d
1:  push %rsi
    RING_LABEL
    pop %rsi
    PRINT " sel=0x"
    lea selectors(%rip), %rax
    movzwl (%rax,%r12,2), %eax
    PUT_HEX %rax, 4
    PRINT " lar=0x"
    mov 0(%rsi), %rax
    cmpq $0, 8(%rsi)
    je 2f
    and $0x00f0ff00, %rax           /* access rights; bits 19:16 (limit) are not architectural */
2:  PUT_HEX %rax, 16
    PRINT " zf="
    PUT_DEC 8(%rsi)
    PRINT " lsl=0x"
    PUT_HEX 16(%rsi), 16
    PRINT " zf="
    PUT_DEC 24(%rsi)
    PRINT " verr="
    PUT_DEC 32(%rsi)
    PRINT " verw="
    PUT_DEC 40(%rsi)
    PRINT "\n"
    add $SEL_BYTES, %rsi
    inc %r12d
    cmp $NSEL, %r12d
    jb 1b
    ret

    .section .rodata
ring0_s: .asciz "ring0"
ring3_s: .asciz "ring3"
/* null, kernel code, kernel code with RPL3, kernel data, user data, user code, TSS (busy), LDT,
 * conforming code, 32-bit user code, LDT entry 0, LDT entry 2 (past the LDT limit), past the GDT limit */
    .balign 2
selectors:
    .word 0x0000, KERNEL_CS, KERNEL_CS | 3, KERNEL_DS, USER_DS, USER_CS, TSS_SEL, LDT_SEL
    .word CONFORMING_CS, USER_CS32, 0x0004, 0x0017, 0x1000
    .data
    .balign 8
results_ring0: .fill R_SIZE, 1, 0
results_ring3: .fill R_SIZE, 1, 0
#include "guest_lib.inc"
