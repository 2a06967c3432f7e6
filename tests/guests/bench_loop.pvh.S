/* bench_loop.pvh.S - the shared baseline's tiny-pvh-loop (a 2-instruction `dec ecx; jnz` loop,
 * then the marker and debug-exit) with ITERATIONS set at build time, for bench/insn_rate: its
 * 10M iterations take QEMU TCG ~0.02 s of CPU, inside TCG's start-up noise, so the long
 * variants (CMakeLists.txt) run long enough to time. 32-bit protected mode, paging off. */
#ifndef ITERATIONS
#define ITERATIONS 10000000
#endif
#include "pvh32.inc"
PVH_ENTRY
    mov $ITERATIONS, %ecx
0:  dec %ecx
    jnz 0b
    mov $msg, %esi
    mov $0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  mov $0xf4, %dx
    xor %eax, %eax
    out %eax, %dx               /* debug-exit 0: status 1 */
3:  hlt
    jmp 3b
msg: .asciz "GUEST-INIT-REACHED bench-loop\n"
