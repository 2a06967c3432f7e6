/* s3.mb.S - suspend to RAM and resume, the way kvm-unit-tests' s3 does it, for
 * tests/backend/suite_devices_test.cpp (ACPI 6.4 16.1.3 sleeping/waking, 5.2.10 FACS):
 *   - finds the FADT through RSDP -> XSDT, and the FACS and PM1a blocks through the FADT;
 *   - copies a real-mode resume routine to 0x1000 and writes 0x1008 as the FACS
 *     Firmware_Waking_Vector (so CS = 0x100, IP = 8 on resume);
 *   - waits for a second boundary with status A's UIP bit, clears status C, sets the RTC alarm to
 *     "every second" (don't-care values) with AIE, RTC_EN in PM1_EN;
 *   - writes 0x21 at 0x500 and enters S3 (SLP_TYP 1 | SLP_EN in PM1a_CNT), then would overwrite
 *     0x500 with 0x66 if it ran on.
 * The resume routine checks CS = 0x100, real mode (CR0.PE clear), PM1_STS.WAK_STS and RTC_STS,
 * status C's alarm flag, and leaves through debug-exit with the byte at 0x500 (0x21: popek status
 * 67), or 0x7X naming the failed check. */
#include "guest.inc"
#define RESUME_AT 0x1000
#define MARK 0x500

    .section .multiboot, "a"
    .balign 4
    .long 0x1BADB002, 0, -0x1BADB002

    .section .text.start, "ax"
    .code32
    .globl _start
_start:
    mov $stack_top, %esp
    /* RSDP at 0xe0000 (where popek and QEMU's firmware put it): XSDT at offset 24. */
    mov $0xe0000, %ebx
1:  cmpl $0x20445352, 0(%ebx)           /* "RSD " */
    jne 2f
    cmpl $0x20525450, 4(%ebx)           /* "PTR " */
    je 3f
2:  add $16, %ebx
    cmp $0x100000, %ebx
    jb 1b
    mov $0x71, %eax
    jmp fail
3:  mov 24(%ebx), %ebx                  /* XSDT (low half) */
    mov 4(%ebx), %ecx                   /* its length */
    lea (%ebx,%ecx), %ecx
    lea 36(%ebx), %esi                  /* the entries: 8 bytes each */
4:  cmp %ecx, %esi
    jae 5f
    mov (%esi), %edi
    cmpl $0x50434146, (%edi)            /* "FACP" */
    je 6f
    add $8, %esi
    jmp 4b
5:  mov $0x72, %eax
    jmp fail
6:  mov 36(%edi), %ebp                  /* FIRMWARE_CTRL: the FACS */
    mov 56(%edi), %eax                  /* PM1a_EVT_BLK */
    mov %eax, pm1_evt
    mov 64(%edi), %eax                  /* PM1a_CNT_BLK */
    mov %eax, pm1_cnt
    cmpl $0x53434146, 0(%ebp)           /* "FACS" */
    je 7f
    mov $0x73, %eax
    jmp fail
7:  /* The resume routine to 0x1000, the waking vector 8 bytes in. */
    mov $resume_start, %esi
    mov $RESUME_AT, %edi
    mov $(resume_end - resume_start), %ecx
    cld
    rep movsb
    movl $(RESUME_AT + 8), 12(%ebp)     /* Firmware_Waking_Vector */
    mov $msg_sleep, %esi
    call puts

    mov pm1_evt, %edx
    add $2, %edx                        /* PM1_EN */
    mov $0x400, %ax                     /* RTC_EN */
    outw %ax, %dx

    /* A second boundary: UIP rises, then falls. */
8:  mov $0x0a, %al
    outb %al, $0x70
    inb $0x71, %al
    test $0x80, %al
    jz 8b
9:  mov $0x0a, %al
    outb %al, $0x70
    inb $0x71, %al
    test $0x80, %al
    jnz 9b
    mov $0x0c, %al                      /* status C: read to clear */
    outb %al, $0x70
    inb $0x71, %al
    mov $0x01, %al                      /* seconds, minutes, hours alarm: don't care */
    call rtc_dont_care
    mov $0x03, %al
    call rtc_dont_care
    mov $0x05, %al
    call rtc_dont_care
    mov $0x0b, %al                      /* status B |= AIE */
    outb %al, $0x70
    inb $0x71, %al
    or $0x20, %al
    mov %al, %bl
    mov $0x0b, %al
    outb %al, $0x70
    mov %bl, %al
    outb %al, $0x71

    movl $0x21, MARK
    mov pm1_cnt, %edx
    mov $0x2400, %ax                    /* SLP_EN | SLP_TYP 1 (\_S3) */
    outw %ax, %dx
10: movl $0x66, MARK                    /* only if the VM did not sleep */
    jmp 10b

rtc_dont_care:
    outb %al, $0x70
    mov $0xc0, %al
    outb %al, $0x71
    ret

fail:
    mov $DEBUG_EXIT, %dx
    outl %eax, %dx
11: hlt
    jmp 11b

    .code16
resume_start:
    .fill 8, 1, 0xf4                    /* hlt: the vector is 8 bytes in */
    mov $0x74, %ebx
    mov %cs, %ax
    cmp $0x100, %ax
    jne 1f
    mov $0x75, %ebx
    mov %cr0, %eax
    test $1, %al
    jnz 1f
    mov $0x76, %ebx
    mov pm1_evt, %dx                    /* PM1_STS (DS = 0: the image is below 64 KiB) */
    in %dx, %ax
    and $0x8400, %ax                    /* WAK_STS | RTC_STS */
    cmp $0x8400, %ax
    jne 1f
    mov $0x77, %ebx
    mov $0x0c, %al                      /* status C: alarm flag */
    outb %al, $0x70
    inb $0x71, %al
    test $0x20, %al
    jz 1f
    mov MARK, %ebx                      /* DS = 0 after the reset */
1:  mov %ebx, %eax
    mov $DEBUG_EXIT, %dx
    outl %eax, %dx
2:  hlt
    jmp 2b
resume_end:
    .code32

#include "guest32_lib.inc"

msg_sleep:  .asciz "s3: sleeping\n"
    .balign 4
pm1_evt:    .long 0
pm1_cnt:    .long 0

    .bss
    .balign 16
    .skip 4096
stack_top:
