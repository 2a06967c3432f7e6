/* User program entry (docs/guest-os.md "Program start"): rdi = argc, rsi = argv. */
        .text
        .globl _start
_start:
        xor %ebp, %ebp
        call main
        mov %eax, %edi
        call pos_exit
        ud2
        .section .note.GNU-stack, "", @progbits
